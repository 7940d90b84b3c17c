"""The widget's files and the routes that serve them; no browser needed."""

from __future__ import annotations

import gzip
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot import web

ROOT = Path(__file__).resolve().parents[2]
WIDGET = ROOT / "web" / "widget.js"
BUDGET = 12 * 1024  # bytes of widget.js after gzip -9, CSS included


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    app.include_router(web.router)
    return TestClient(app)


def test_widget_fits_the_size_budget():
    size = len(gzip.compress(WIDGET.read_bytes(), compresslevel=9))
    assert size <= BUDGET, f"widget.js is {size} bytes gzipped; the budget is {BUDGET}"


def test_widget_never_parses_html_or_evaluates_code():
    src = WIDGET.read_text(encoding="utf-8")
    code = re.sub(r"/\*.*?\*/|//[^\n]*", "", src, flags=re.S)  # comments may name what is forbidden
    for forbidden in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "setTimeout('",
        'setTimeout("',
        "localStorage",
        "document.cookie",
        "createContextualFragment",
        "DOMParser",
    ):
        assert forbidden not in code, forbidden


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[tuple[dict, str]] = []
        self.handlers: list[str] = []
        self._in: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.handlers += [k for k in a if k.startswith("on")]
        if tag == "script":
            self._in = a
            self.scripts.append((a, ""))

    def handle_data(self, data):
        if self._in is not None:
            a, text = self.scripts[-1]
            self.scripts[-1] = (a, text + data)

    def handle_endtag(self, tag):
        if tag == "script":
            self._in = None


def test_demo_page_has_no_inline_script():
    p = _Scripts()
    p.feed((ROOT / "web" / "demo.html").read_text(encoding="utf-8"))
    assert p.scripts, "the demo page loads the widget"
    for attrs, body in p.scripts:
        assert attrs.get("src", "").startswith("/"), attrs
        assert not body.strip(), f"inline script: {body[:80]}"
    assert not p.handlers, f"inline event handlers: {p.handlers}"
    assert "javascript:" not in (ROOT / "web" / "demo.html").read_text(encoding="utf-8")


def test_widget_js_is_served_with_caching_headers(client):
    r = client.get("/widget.js")
    assert r.status_code == 200
    assert r.content == WIDGET.read_bytes()
    assert r.headers["content-type"] == "application/javascript; charset=utf-8"
    assert r.headers["cache-control"] == "public, max-age=300"
    assert r.headers["x-content-type-options"] == "nosniff"
    etag = r.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)  # strong: no W/
    again = client.get("/widget.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert client.get("/widget.js", headers={"If-None-Match": f'"nope", W/{etag}'}).status_code == 304
    assert client.get("/widget.js", headers={"If-None-Match": '"nope"'}).status_code == 200
    head = client.head("/widget.js")
    assert head.status_code == 200 and head.content == b"" and head.headers["etag"] == etag


def test_demo_page_is_served_with_a_strict_csp(client):
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    csp = r.headers["content-security-policy"]
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["connect-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "'unsafe-eval'" not in csp and "'unsafe-inline'" not in directives["script-src"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert client.get("/", headers={"If-None-Match": r.headers["etag"]}).status_code == 304
    js = client.get("/demo.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("application/javascript")


def test_the_api_serves_the_widget(tmp_path):
    """bot.api mounts this router (the browser tests rely on it too)."""
    from bot.api import create_app
    from bot.settings import Settings

    with TestClient(create_app(Settings.from_env({"BOT_DATA_DIR": str(tmp_path)}))) as api:
        for path in ("/", "/widget.js", "/demo.js"):
            r = api.get(path)
            assert r.status_code == 200 and r.headers["etag"], path
