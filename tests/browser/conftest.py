"""Fixtures for the web widget's browser tests: the real API server, a second "host site" server, and Chromium.

- `api`: the real `uvicorn bot.api:app` on a free loopback port (one per session; killed at the end).
- `host`: a tiny static server on another loopback port that plays a third-party site embedding the widget
  (optionally with a strict CSP and hostile global CSS), so cross-origin embedding is tested for real.
- `browser`: Debian's Chromium (/usr/bin/chromium) driven by Playwright, one per session; `context` is new per test.

Without /usr/bin/chromium (or Playwright) the browser tests are skipped, unless CI=true: there they fail loudly.
"""

from __future__ import annotations

import html
import os
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.server import ApiServer, http_get

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - reported by the `browser` fixture
    sync_playwright = None

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class WidgetApiServer(ApiServer):
    """The shared test server, checked to serve the widget (bot.api must include bot.web's router)."""

    def start(self, timeout: float = 60.0) -> WidgetApiServer:
        super().start(timeout)
        status, _ = http_get(self.url + "/widget.js")
        if status != 200:
            self.stop()
            raise RuntimeError(f"GET /widget.js answered {status}: bot.api must include bot.web's router")
        return self


@pytest.fixture(scope="session")
def api(browser, tmp_path_factory) -> Iterator[WidgetApiServer]:
    """(Asks for `browser` first so that a missing browser skips before a server is started.)"""
    server = WidgetApiServer(tmp_path_factory.mktemp("api"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def make_api(browser, tmp_path) -> Iterator:
    """Extra API servers for a test that stops and restarts one; all are stopped at the end."""
    servers: list[WidgetApiServer] = []

    def make(**kw) -> WidgetApiServer:
        servers.append(WidgetApiServer(tmp_path, **kw))
        return servers[-1]

    yield make
    for s in servers:
        s.stop()


# ---- the third-party host site ---------------------------------------------------------------------------------------

# Global CSS a careless or hostile host site may have. Rules that would hide or shrink <html>/<body> themselves
# (display, opacity, transform) target `body *` instead of `*`: a page that hides its own body shows nothing at all,
# whatever is embedded in it. Everything else hits every element, the widget's host element included.
HOSTILE_CSS = """
html { font-size: 2px !important; }
body * { display: none !important; }
body * { transform: scale(0.5) rotate(3deg) !important; opacity: 0.2 !important; filter: blur(3px) !important;
    position: absolute !important; left: -9999px !important; clip-path: inset(50%) !important; }
* { color: red !important; font-size: 2px !important; line-height: 0 !important; visibility: hidden !important;
    box-sizing: content-box !important; font-family: serif !important; letter-spacing: 9px !important;
    text-transform: uppercase !important; cursor: none !important; }
button { color: red; background: lime; border: 9px solid red; }
div { font-size: 2px; }
textarea, input { display: none !important; }
debt-rights-chat { display: none !important; width: 0 !important; height: 0 !important; }
"""

# Loaded (from the host's own origin, so a strict CSP allows it) before the widget: the queue stub, a recorder of
# the widget's events, and a recorder of CSP violations.
HOST_JS = """
window.DebtRightsChat = window.DebtRightsChat || function () {
  (window.DebtRightsChat.q = window.DebtRightsChat.q || []).push(arguments);
};
window.__events = []; window.__csp = [];
for (const name of ['open', 'close', 'reply', 'error', 'clear', 'exit']) {
  window.addEventListener('debt-rights-chat:' + name, (e) => window.__events.push({name, detail: e.detail || null}));
}
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""

QUEUE_JS = """
DebtRightsChat('setLang', 'en');
DebtRightsChat('ask', '信用卡逾期会坐牢吗');
"""


class HostHandler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/widget.js":  # a site may self-host the widget; the API stays on the API origin
            return self._send(200, (WEB / "widget.js").read_bytes(), "application/javascript; charset=utf-8")
        if url.path == "/host.js":
            return self._send(200, HOST_JS.encode(), "application/javascript")
        if url.path == "/queue.js":
            return self._send(200, QUEUE_JS.encode(), "application/javascript")
        if url.path == "/hostile.css":
            return self._send(200, HOSTILE_CSS.encode(), "text/css")
        if url.path != "/page":
            return self._send(404, b"not found", "text/plain")
        api = q.get("api", "")
        headers = {}
        if q.get("csp") == "1":
            headers["Content-Security-Policy"] = f"default-src 'self'; connect-src {api}"
        src = "/widget.js" if q.get("selfhost") == "1" else f"{api}/widget.js"
        attrs = {"data-api": api}
        for k in ("lang", "mode", "accent", "title", "open", "human-url", "human-label", "pack"):
            if k in q:
                attrs["data-" + k] = q[k]
        attr_html = " ".join(f'{k}="{html.escape(v)}"' for k, v in attrs.items())
        page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Host site</title>
{'<link rel="stylesheet" href="/hostile.css">' if q.get("hostile") == "1" else ""}
<script src="/host.js"></script>
{'<script src="/queue.js"></script>' if q.get("queue") == "1" else ""}
<script src="{html.escape(src)}" defer {attr_html}></script></head>
<body><main><h1>Host site</h1><p><a href="#top" id="host-link">A link on the host page</a></p></main></body></html>"""
        return self._send(200, page.encode(), "text/html; charset=utf-8", headers)


class Host:
    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), HostHandler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def page(self, api: str, **params: str) -> str:
        return f"{self.url}/page?" + urllib.parse.urlencode({"api": api, **params})

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def host(browser) -> Iterator[Host]:
    h = Host()
    yield h
    h.close()


# ---- the browser -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} is missing (apt-get install chromium fonts-noto-cjk)")
    if sync_playwright is None:
        missing.append("the Python package playwright is missing (pip install playwright)")
    if missing:
        reason = "; ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail("browser tests must run in CI: " + reason, pytrace=False)
        pytest.skip("browser tests skipped: " + reason)
    pw = sync_playwright().start()
    b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield b
    b.close()
    pw.stop()


@pytest.fixture
def new_context(browser):
    """Factory for browser contexts (each test gets fresh storage); closed at the end of the test."""
    contexts = []

    def make(**kw):
        kw.setdefault("viewport", {"width": 1280, "height": 860})
        kw.setdefault("locale", "zh-CN")
        ctx = browser.new_context(**kw)
        ctx.set_default_timeout(15_000)
        contexts.append(ctx)
        return ctx

    yield make
    for ctx in contexts:
        ctx.close()


@pytest.fixture
def page(new_context):
    """A page that records JS errors, CSP violations and dialogs; the test fails on any error or violation."""
    pg = new_context().new_page()
    pg.errors = []
    pg.dialogs = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.on("console", lambda m: pg.errors.append(m.text) if "Content Security Policy" in m.text else None)

    def on_dialog(d) -> None:
        pg.dialogs.append(d.message)
        d.dismiss()

    pg.on("dialog", on_dialog)
    yield pg
    assert not pg.errors, f"JavaScript errors or CSP violations on the page: {pg.errors}"
