"""Front-door protection as plain ASGI middleware: a request-body cap and per-client rate limiting.

Both run before FastAPI parses anything, so an oversized or flooding client costs us almost nothing.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from limits import RateLimitItem, parse, storage, strategies

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("bot.guard")


async def send_json(send: Send, status: int, body: dict, headers: list[tuple[bytes, bytes]] = ()) -> None:
    data = json.dumps(body, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": data})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class BodyLimit:
    """Answers 413 when a request body is larger than `max_bytes`, whatever Content-Length claims."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        too_large = {"detail": f"request body is larger than {self.max_bytes} bytes"}
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.isdigit():
                return await send_json(send, 400, {"detail": "invalid Content-Length"})
            if int(declared) > self.max_bytes:
                return await send_json(send, 413, too_large)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return await send_json(send, 413, too_large)
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body, replayed = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


def client_address(scope: Scope, trusted: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> str:
    """The peer address; behind a trusted proxy, the right-most X-Forwarded-For hop that is not a trusted proxy."""
    peer = (scope.get("client") or ("unknown", 0))[0]

    def is_trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in trusted)

    if not trusted or not is_trusted(peer):
        return peer
    forwarded = _header(scope, b"x-forwarded-for")
    hops = [h.strip() for h in (forwarded or "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not is_trusted(hop):
            return hop
    return hops[0] if hops else peer


class RateLimit:
    """A moving-window limit per client on the chat and feedback endpoints; 429 with Retry-After past it.

    Counters live in memory by default, or in Redis (`BOT_RATE_LIMIT_STORAGE=redis://…`) so that several API
    instances share them. If the storage fails, requests are let through: the limiter must never take the bot down.
    """

    PATHS = ("/v1/chat", "/v1/feedback")

    def __init__(self, app: ASGIApp, limit: str, storage_uri: str, trusted_proxies: tuple[str, ...]) -> None:
        self.app = app
        self.item: RateLimitItem = parse(limit)
        self.limiter = strategies.MovingWindowRateLimiter(storage.storage_from_string(storage_uri))
        self.trusted = [ipaddress.ip_network(p, strict=False) for p in trusted_proxies]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self.PATHS:
            return await self.app(scope, receive, send)
        client = client_address(scope, self.trusted)
        try:
            allowed = self.limiter.hit(self.item, "bot", client)
            reset = self.limiter.get_window_stats(self.item, "bot", client).reset_time if not allowed else 0
        except Exception:  # storage down: fail open, loudly in the logs
            log.exception("rate-limit storage failed; letting the request through")
            allowed = True
        if allowed:
            return await self.app(scope, receive, send)
        retry_after = max(1, math.ceil(reset - time.time()))
        await send_json(
            send,
            429,
            {"detail": f"too many messages; try again in {retry_after} s"},
            [(b"retry-after", str(retry_after).encode())],
        )
