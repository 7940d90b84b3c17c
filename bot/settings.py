"""Every setting, read from environment variables in this one place.

Defaults run the service with no set-up: the bundled pack, loopback only, SQLite under ./data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

BUNDLED_PACKS = Path(__file__).resolve().parent.parent / "intents"


def _list(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    packs_dir: Path = BUNDLED_PACKS
    default_pack: str = "cn"
    hant_variant: str = "s2t"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_message_chars: int = 1000
    max_body_bytes: int = 16 * 1024
    cors_origins: tuple[str, ...] = ("*",)
    admin_token: str = ""
    rate_limit: str = "30/minute"
    rate_limit_storage: str = "memory://"
    trusted_proxies: tuple[str, ...] = ()
    database_url: str = ""
    data_dir: Path = Path("data")
    keep_unanswered: bool = True
    retention_days: int = 30
    log_level: str = "info"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        get = env.get
        return cls(
            packs_dir=Path(get("BOT_PACKS_DIR", str(BUNDLED_PACKS))),
            default_pack=get("BOT_DEFAULT_PACK", "cn"),
            hant_variant=get("BOT_HANT_VARIANT", "s2t"),
            host=get("BOT_HOST", "127.0.0.1"),
            port=int(get("BOT_PORT", "8000")),
            workers=int(get("BOT_WORKERS", "1")),
            max_message_chars=int(get("BOT_MAX_MESSAGE_CHARS", "1000")),
            max_body_bytes=int(get("BOT_MAX_BODY_BYTES", str(16 * 1024))),
            cors_origins=_list(get("BOT_CORS_ORIGINS", "*")),
            admin_token=get("BOT_ADMIN_TOKEN", ""),
            rate_limit=get("BOT_RATE_LIMIT", "30/minute"),
            rate_limit_storage=get("BOT_RATE_LIMIT_STORAGE", "memory://"),
            trusted_proxies=_list(get("BOT_TRUSTED_PROXIES", "")),
            database_url=get("BOT_DATABASE_URL", ""),
            data_dir=Path(get("BOT_DATA_DIR", "data")),
            keep_unanswered=_bool(get("BOT_KEEP_UNANSWERED", "true")),
            retention_days=int(get("BOT_RETENTION_DAYS", "30")),
            log_level=get("BOT_LOG_LEVEL", "info"),
        )
