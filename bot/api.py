"""The HTTP API: `bot.api:app`, or `create_app(settings)` for tests and other settings.

Every error is a JSON 4xx naming the problem; nothing a client sends should produce a 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import threading
import time
from pathlib import Path
from typing import Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from bot import __version__
from bot.admin import admin_router, require_token
from bot.dialogue import Engine
from bot.guard import BodyLimit, RateLimit
from bot.metrics import Metrics, metrics_router
from bot.pack import PackInvalid, load_pack
from bot.settings import Settings
from bot.store import Recorder, Store
from bot.web import router as web_router

log = logging.getLogger("bot.chat")

Lang = Literal["zh-Hans", "zh-Hant", "en"]


class ChatRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"message": "信用卡逾期会坐牢吗", "lang": "auto", "pack": "cn"}]}
    )
    message: StrictStr = Field(description="The borrower's question, 1 to 1,000 characters.")
    lang: Literal["auto", "zh-Hans", "zh-Hant", "en"] = Field("auto", description="Reply language; auto = as written.")
    pack: StrictStr = Field("cn", description="Content pack id.")


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reply_id": "0123456789abcdef0123456789abcdef", "helpful": False}]}
    )
    reply_id: StrictStr = Field(pattern=r"^[A-Za-z0-9_-]{8,64}$", description="The `reply_id` of the rated reply.")
    helpful: StrictBool = Field(description="Thumbs up (true) or down (false).")
    comment: StrictStr | None = Field(None, max_length=1000, description="Optional; personal data is masked.")


class Recorded(BaseModel):
    status: Literal["recorded"]


class Citation(BaseModel):
    title: str
    article: str | None
    url: str | None


class Suggestion(BaseModel):
    intent: str
    title: str


class ChatResponse(BaseModel):
    type: Literal["answer", "clarify", "fallback", "crisis"]
    intent: str | None
    confidence: float = Field(ge=0, le=1)
    lang: Lang
    title: str | None
    answer: str
    citations: list[Citation]
    suggestions: list[Suggestion]
    disclaimer: str
    reply_id: str


class IntentSummary(BaseModel):
    id: str
    title: str
    category: str


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    packs: dict[str, int]


def _problem(field: str, message: str) -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors, so clients parse one format."""
    return HTTPException(422, detail=[{"loc": ["body", field], "msg": message, "type": "value_error"}])


def load_engines(settings: Settings) -> dict[str, Engine]:
    """Every pack folder under packs_dir (a folder with a pack.yaml), keyed by its pack id."""
    engines = {}
    for folder in sorted(Path(settings.packs_dir).iterdir()):
        if (folder / "pack.yaml").is_file():
            pack = load_pack(folder, settings.hant_variant)
            engines[pack.id] = Engine(pack)
    if settings.default_pack not in engines:
        raise RuntimeError(f"default pack {settings.default_pack!r} not found under {settings.packs_dir}")
    return engines


def configure_logging(level: str) -> None:
    """JSON lines on stderr for the `bot` loggers; the messages themselves are built as JSON by the callers."""
    logger = logging.getLogger("bot")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(level.upper())


class Reloader:
    """Swaps in freshly loaded packs; a pack that fails validation is refused and the old one keeps answering.

    Requests read `app.state.engines` once, so the swap is atomic: there is never a moment without answers.
    """

    def __init__(self, app: FastAPI, settings: Settings) -> None:
        self.app, self.settings, self.lock = app, settings, threading.Lock()

    def __call__(self) -> dict[str, int]:
        with self.lock:
            engines = load_engines(self.settings)  # raises PackInvalid, leaving the old engines in place
            self.app.state.engines = engines
        packs = {pid: len(e.pack.intents) for pid, e in engines.items()}
        log.info(json.dumps({"event": "reload", "packs": packs}))
        return packs

    def on_signal(self) -> None:
        """SIGHUP: reload in a thread, so the event loop keeps serving while packs load."""

        def run() -> None:
            try:
                self()
            except (PackInvalid, OSError, RuntimeError) as exc:
                log.error(json.dumps({"event": "reload_refused", "errors": str(exc).splitlines()[:50]}))

        threading.Thread(target=run, name="pack-reload", daemon=True).start()

    def install_signal_handler(self) -> None:
        # Outside the main thread (the test client) or without SIGHUP (Windows) there is no signal to catch.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.on_signal)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    app = FastAPI(
        title="debt-rights-bot",
        version=__version__,
        description="Answers borrowers' questions about debt collection in mainland China, with citations. "
        "General legal information, not legal advice.",
    )
    app.state.settings = settings
    app.state.engines = load_engines(settings)
    # Counselor insights (docs/insights.md): metrics, and recording off the request path by one writer thread.
    app.state.metrics = Metrics()
    app.state.store = Store.from_settings(settings)
    app.state.recorder = Recorder.from_settings(app.state.store, app.state.metrics, settings).start()
    app.router.add_event_handler("shutdown", app.state.recorder.close)
    app.state.reload = Reloader(app, settings)
    app.router.add_event_handler("startup", app.state.reload.install_signal_handler)
    app.include_router(web_router)
    app.include_router(metrics_router(app.state.metrics))
    app.include_router(admin_router(settings, app.state.store, lambda: app.state.engines))
    # Added innermost first: CORS wraps everything, so even a 413 or 429 reaches a browser widget readably.
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        RateLimit,
        limit=settings.rate_limit,
        storage_uri=settings.rate_limit_storage,
        trusted_proxies=settings.trusted_proxies,
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type"],
        allow_credentials=False,
        expose_headers=["Retry-After"],
    )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    def engine_for(pack: str) -> Engine:
        engine = app.state.engines.get(pack)
        if engine is None:
            raise _problem("pack", f"unknown pack {pack!r}; available: {sorted(app.state.engines)}")
        return engine

    @app.post("/v1/chat", response_model=ChatResponse, tags=["chat"])
    def chat(request: ChatRequest) -> dict:
        """Answer one message: an answer, a "did you mean" (clarify), a fallback, or crisis help."""
        started = time.perf_counter()
        if not request.message.strip():
            raise _problem("message", "message is empty")
        if len(request.message) > settings.max_message_chars:
            raise _problem("message", f"message is longer than {settings.max_message_chars} characters")
        engine = engine_for(request.pack)
        reply = engine.reply(request.message, request.lang)
        app.state.recorder.record_reply(request.pack, request.message, reply, time.perf_counter() - started)
        log.info(
            json.dumps(
                {
                    "event": "reply",
                    "pack": request.pack,
                    "type": reply.type,
                    "intent": reply.intent,
                    "confidence": reply.confidence,
                    "lang": reply.lang,
                    "latency_ms": round((time.perf_counter() - started) * 1000, 3),
                }
            )
        )
        return reply.to_dict()

    @app.post("/v1/feedback", status_code=202, response_model=Recorded, tags=["chat"])
    def feedback(request: FeedbackRequest) -> dict:
        """A thumbs up or down on one reply, for the counselors' insights page. Recorded asynchronously."""
        app.state.recorder.record_feedback(request.reply_id, request.helpful, request.comment)
        return {"status": "recorded"}

    @app.get("/v1/intents", response_model=list[IntentSummary], tags=["content"])
    def intents(lang: Lang = "zh-Hans", pack: str = Query("cn")) -> list[dict]:
        """Every intent of a pack, for counselors browsing the content."""
        engine = engine_for(pack)
        return [{"id": i.id, "title": i.title[lang], "category": i.category} for i in engine.pack.intents.values()]

    @app.get(
        "/v1/intents/{intent_id}",
        response_model=ChatResponse,
        tags=["content"],
        responses={404: {"description": "No such intent"}},
    )
    def intent(intent_id: str, lang: Lang = "zh-Hans", pack: str = Query("cn")) -> dict:
        """One intent's full answer with its citations, in the shape of a chat answer."""
        engine = engine_for(pack)
        found = engine.pack.intents.get(intent_id)
        if found is None:
            raise HTTPException(404, detail=f"no intent {intent_id!r} in pack {pack!r}")
        return engine.intent_reply(found, lang).to_dict()

    @app.post(
        "/v1/admin/reload",
        tags=["admin"],
        dependencies=[Depends(require_token(settings))],
        responses={
            401: {"description": "Missing or wrong admin token"},
            404: {"description": "Admin endpoints are off (no BOT_ADMIN_TOKEN)"},
            422: {"description": "The new pack is invalid; the old one keeps answering"},
        },
    )
    def reload() -> dict:
        """Reload every pack from disk without a restart (also on SIGHUP). Needs the admin token."""
        try:
            return {"status": "reloaded", "packs": app.state.reload()}
        except PackInvalid as exc:
            raise HTTPException(
                422,
                detail={
                    "message": "pack refused; the previous pack keeps answering",
                    "errors": [str(e) for e in exc.errors],
                },
            ) from exc

    @app.get("/healthz", response_model=Health, tags=["ops"])
    def healthz() -> dict:
        return {
            "status": "ok",
            "version": __version__,
            "packs": {pid: len(e.pack.intents) for pid, e in app.state.engines.items()},
        }

    return app


def __getattr__(name: str) -> FastAPI:
    """`bot.api:app` is built on first use, so importing this module never loads a pack by surprise."""
    if name == "app":
        globals()["app"] = create_app()
        return globals()["app"]
    raise AttributeError(name)
