"""Static routes for the embeddable web chat widget (issue 4).

`bot.api` mounts this with ``app.include_router(router)``. It serves:

- ``GET /widget.js`` - the widget, one file, no build step (``web/widget.js``);
- ``GET /`` - the demo page (``web/demo.html``) with a strict Content-Security-Policy;
- ``GET /demo.js`` - the demo page's script (no inline script on the demo page).

The files are read once at import; each gets a strong ETag (SHA-256 of its bytes) and a conditional
request with a matching ``If-None-Match`` is answered ``304 Not Modified``.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"

#: Policy for the demo page. The widget itself needs none of 'unsafe-inline' (its styles are constructable
#: stylesheets) nor 'unsafe-eval'; the demo page's own <style> block is why style-src allows inline styles.
DEMO_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    etag: str
    media_type: str
    headers: dict[str, str]


def _load(name: str, media_type: str, headers: dict[str, str]) -> Asset | None:
    path = WEB_DIR / name
    try:
        body = path.read_bytes()
    except OSError as exc:  # e.g. a wheel built without web/: the API still works, the widget is 404
        log.warning("web asset %s not available: %s", path, exc)
        return None
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Asset(body, etag, media_type, headers)


ASSETS: dict[str, Asset | None] = {
    "widget.js": _load(
        "widget.js",
        "application/javascript; charset=utf-8",
        {
            "Cache-Control": "public, max-age=300",
            # Embedded on other sites: allow loading under COEP/CORP and from any origin.
            "Cross-Origin-Resource-Policy": "cross-origin",
            "Access-Control-Allow-Origin": "*",
            **_SECURITY_HEADERS,
        },
    ),
    "demo.js": _load(
        "demo.js",
        "application/javascript; charset=utf-8",
        {"Cache-Control": "public, max-age=300", **_SECURITY_HEADERS},
    ),
    "demo.html": _load(
        "demo.html",
        "text/html; charset=utf-8",
        {
            "Cache-Control": "no-cache",
            "Content-Security-Policy": DEMO_CSP,
            "X-Frame-Options": "DENY",
            **_SECURITY_HEADERS,
        },
    ),
}


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Weak comparison, as RFC 9110 prescribes for If-None-Match."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return etag in tags


def _serve(name: str, request: Request) -> Response:
    asset = ASSETS.get(name)
    if asset is None:
        return PlainTextResponse("Not found", status_code=404)
    headers = {"ETag": asset.etag, **asset.headers}
    if _etag_matches(request.headers.get("if-none-match"), asset.etag):
        headers.pop("Content-Security-Policy", None)
        return Response(status_code=304, headers=headers)
    body = b"" if request.method == "HEAD" else asset.body
    response = Response(body, media_type=asset.media_type, headers=headers)
    if request.method == "HEAD":
        response.headers["Content-Length"] = str(len(asset.body))
    return response


router = APIRouter(include_in_schema=False)


@router.api_route("/widget.js", methods=["GET", "HEAD"])
def widget_js(request: Request) -> Response:
    return _serve("widget.js", request)


@router.api_route("/demo.js", methods=["GET", "HEAD"])
def demo_js(request: Request) -> Response:
    return _serve("demo.js", request)


@router.api_route("/", methods=["GET", "HEAD"])
def demo_page(request: Request) -> Response:
    return _serve("demo.html", request)
