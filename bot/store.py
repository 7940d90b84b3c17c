"""Counselor insights storage: what the bot replied, what it could not answer, what people found unhelpful.

Two parts:

- `Store` is the database (SQLAlchemy Core): a SQLite file under `data_dir` by default so the service runs with
  no set-up, PostgreSQL (`postgresql+psycopg://…`) when several API instances share one. It owns the numbered
  schema migrations, retention, and the read queries the admin page needs.
- `Recorder` takes events and feedback from request handlers and never slows or breaks them: handlers put a small
  record on a bounded queue and return; one writer thread batches the records into the database. When the queue
  is full or the database is down the records are dropped and counted (`bot_insights_dropped_total`), and the
  writer checks the schema again on the next batch, so the service recovers by itself when the database returns.

Privacy: a message text is kept only for `fallback` and `clarify` replies, only when `keep_unanswered` is on, and
only after `redact()`; comments are redacted too. Redaction runs on the writer thread, not on the request path.
Times are stored as naive UTC.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, RowMapping
from sqlalchemy.pool import NullPool

from bot.redact import redact

if TYPE_CHECKING:
    from bot.dialogue import Reply
    from bot.metrics import Metrics
    from bot.settings import Settings

log = logging.getLogger("bot.store")

#: Reply types whose message text is worth keeping: the bot could not answer them outright.
UNANSWERED_TYPES = ("fallback", "clarify")
SQLITE_FILE = "insights.db"
#: Arbitrary constant for `pg_advisory_xact_lock`, so instances starting together migrate one at a time.
MIGRATION_LOCK = 0x6465_6274  # "debt"
#: Execution option: on SQLite, open the transaction with BEGIN IMMEDIATE (see `_create_engine`).
IMMEDIATE = "sqlite_begin_immediate"


def utcnow() -> datetime:
    """Naive UTC: the one time format every column uses, on SQLite and PostgreSQL alike."""
    return datetime.now(UTC).replace(tzinfo=None)


# --- schema ---------------------------------------------------------------------------------------------------------
# The Table objects the queries use. Migrations below are frozen history: when the schema changes, add a numbered
# migration and update these by hand; tests/test_store.py checks that a migrated database matches them.

metadata = sa.MetaData()
_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite only autoincrements INTEGER PRIMARY KEY

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_at", sa.DateTime, nullable=False),
)
events = sa.Table(
    "events",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("reply_id", sa.String, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("pack", sa.String, nullable=False),
    sa.Column("lang", sa.String, nullable=False),
    sa.Column("type", sa.String, nullable=False),
    sa.Column("intent", sa.String),
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("text", sa.Text),
)
feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("reply_id", sa.String, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("helpful", sa.Boolean, nullable=False),
    sa.Column("comment", sa.Text),
)


def _migration_1(conn: Connection) -> None:
    """Events and feedback, with the indexes the admin queries and retention use."""
    md = sa.MetaData()
    ident = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    sa.Table(
        "events",
        md,
        sa.Column("id", ident, primary_key=True, autoincrement=True),
        sa.Column("reply_id", sa.String, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("pack", sa.String, nullable=False),
        sa.Column("lang", sa.String, nullable=False),
        sa.Column("type", sa.String, nullable=False),
        sa.Column("intent", sa.String),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("text", sa.Text),
        sa.Index("ix_events_created_at", "created_at"),
        sa.Index("ix_events_reply_id", "reply_id"),
    )
    sa.Table(
        "feedback",
        md,
        sa.Column("id", ident, primary_key=True, autoincrement=True),
        sa.Column("reply_id", sa.String, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("helpful", sa.Boolean, nullable=False),
        sa.Column("comment", sa.Text),
        sa.Index("ix_feedback_created_at", "created_at"),
        sa.Index("ix_feedback_reply_id", "reply_id"),
    )
    md.create_all(conn)


#: Migration N is MIGRATIONS[N - 1]. Append only; never edit one that has shipped.
MIGRATIONS: tuple[Callable[[Connection], None], ...] = (_migration_1,)


# --- the database ---------------------------------------------------------------------------------------------------


def database_url(settings: Settings) -> str:
    """`BOT_DATABASE_URL`, or a SQLite file under `data_dir`. A bare `postgresql://` URL gets the psycopg 3 driver."""
    url = settings.database_url.strip()
    if not url:
        return f"sqlite:///{(Path(settings.data_dir) / SQLITE_FILE).resolve()}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _create_engine(url: str) -> Engine:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # A fresh connection per use: the writer thread and request threads never share one, and a file that has
        # gone away is noticed at once instead of being written through a stale descriptor.
        engine = sa.create_engine(parsed, poolclass=NullPool, connect_args={"timeout": 10})

        @sa.event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            # Real transactions, DDL included (the driver's own handling leaves DDL outside them), so a migration
            # is all or nothing: SQLAlchemy's documented recipe for pysqlite.
            dbapi_connection.isolation_level = None
            # WAL lets the admin page read while the writer writes. Best effort: a read-only file still answers.
            with contextlib.suppress(Exception):
                dbapi_connection.execute("PRAGMA journal_mode=WAL")

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            # IMMEDIATE takes the write lock up front: processes migrating together queue instead of racing.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(IMMEDIATE) else "BEGIN")

        return engine
    if parsed.get_backend_name() == "postgresql":
        return sa.create_engine(
            parsed,
            pool_pre_ping=True,  # a server restart leaves dead pooled connections; replace them instead of failing
            pool_size=2,
            max_overflow=4,
            pool_recycle=1800,
            connect_args={"connect_timeout": 5},
        )
    return sa.create_engine(parsed, pool_pre_ping=True)


@dataclass(frozen=True)
class Window:
    """What the admin page looks at: a UTC date range (both ends inclusive, either open), a language, a pack."""

    start: date | None = None
    end: date | None = None
    lang: str | None = None
    pack: str | None = None

    def period(self, table: sa.Table) -> list[sa.ColumnElement[bool]]:
        """The date range on `table.created_at`."""
        found: list[sa.ColumnElement[bool]] = []
        if self.start is not None:
            found.append(table.c.created_at >= datetime.combine(self.start, datetime.min.time()))
        if self.end is not None:
            found.append(table.c.created_at < datetime.combine(self.end + timedelta(days=1), datetime.min.time()))
        return found

    def scope(self) -> list[sa.ColumnElement[bool]]:
        """Language and pack, which only events know (feedback is joined to its event for them)."""
        found: list[sa.ColumnElement[bool]] = []
        if self.lang:
            found.append(events.c.lang == self.lang)
        if self.pack:
            found.append(events.c.pack == self.pack)
        return found

    def on_events(self) -> list[sa.ColumnElement[bool]]:
        return self.period(events) + self.scope()


class Store:
    """The insights database. Creates nothing until first used, so the app starts even while the database is down."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _create_engine(url)
        self.dialect = self.engine.dialect.name
        self._ready = False
        self._lock = threading.Lock()
        if self.dialect == "sqlite" and self.engine.url.database:
            try:  # "no set-up": the data directory appears on first start
                Path(self.engine.url.database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                log.warning("cannot create the insights data directory: %s", exc)

    @classmethod
    def from_settings(cls, settings: Settings) -> Store:
        return cls(database_url(settings))

    def describe(self) -> str:
        """The URL without its password, for logs and the admin page."""
        return self.engine.url.render_as_string(hide_password=True)

    # schema

    def migrate(self) -> int:
        """Bring the schema to the newest version; returns that version. Safe to run from several instances at once."""
        for attempt in range(5):
            try:
                return self._migrate_once()
            except (sa.exc.IntegrityError, sa.exc.OperationalError) as exc:
                # Two SQLite processes migrating together: one loses the race, waits and finds the work done.
                lost_race = isinstance(exc, sa.exc.IntegrityError) or "locked" in str(exc).lower()
                if not lost_race or attempt == 4:
                    raise
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    def _migrate_once(self) -> int:
        with self.engine.connect().execution_options(**{IMMEDIATE: True}) as conn, conn.begin():
            if self.dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            schema_version.create(conn, checkfirst=True)
            current = conn.execute(sa.select(sa.func.coalesce(sa.func.max(schema_version.c.version), 0))).scalar_one()
            if current > len(MIGRATIONS):
                # A newer instance migrated during a rolling deploy; migrations only add, so keep writing.
                log.warning("insights schema is version %s, newer than this code's %s", current, len(MIGRATIONS))
                return int(current)
            for number in range(current + 1, len(MIGRATIONS) + 1):
                MIGRATIONS[number - 1](conn)
                conn.execute(schema_version.insert().values(version=number, applied_at=utcnow()))
                log.info("insights schema migrated to version %s", number)
            return len(MIGRATIONS)

    def ensure_schema(self) -> None:
        """Migrate once per process, and again after `forget_schema` (the database may have been replaced)."""
        if self._ready:
            return
        with self._lock:
            if not self._ready:
                self.migrate()
                self._ready = True

    def forget_schema(self) -> None:
        self._ready = False

    def version(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar_one() or 0)

    # writing

    def write(self, event_rows: Sequence[dict[str, Any]], feedback_rows: Sequence[dict[str, Any]]) -> None:
        """One transaction per batch. A reply's newest feedback replaces its older one (a changed thumb)."""
        latest = {row["reply_id"]: row for row in feedback_rows}
        with self.engine.begin() as conn:
            if event_rows:
                conn.execute(events.insert(), list(event_rows))
            if latest:
                conn.execute(feedback.delete().where(feedback.c.reply_id.in_(list(latest))))
                conn.execute(feedback.insert(), list(latest.values()))

    def purge(self, retention_days: int, now: datetime | None = None) -> int:
        """Delete events and feedback older than `retention_days`; 0 or less keeps everything. Returns rows deleted."""
        if retention_days <= 0:
            return 0
        cutoff = (now or utcnow()) - timedelta(days=retention_days)
        with self.engine.begin() as conn:
            gone = conn.execute(events.delete().where(events.c.created_at < cutoff)).rowcount
            gone += conn.execute(feedback.delete().where(feedback.c.created_at < cutoff)).rowcount
        return int(gone)

    # reading (the admin page)

    def _rows(self, query: sa.Select) -> list[RowMapping]:
        self.ensure_schema()
        with self.engine.connect() as conn:
            return list(conn.execute(query).mappings())

    def type_counts(self, window: Window) -> dict[str, int]:
        query = sa.select(events.c.type, sa.func.count().label("n")).where(*window.on_events())
        return {r["type"]: int(r["n"]) for r in self._rows(query.group_by(events.c.type))}

    def daily_counts(self, window: Window) -> list[RowMapping]:
        """(day, type, n) rows; `day` is a UTC date as 'YYYY-MM-DD' on both dialects."""
        day = sa.func.date(events.c.created_at)
        query = (
            sa.select(day.label("day"), events.c.type, sa.func.count().label("n"))
            .where(*window.on_events())
            .group_by(day, events.c.type)
            .order_by(day)
        )
        return self._rows(query)

    def top_intents(self, window: Window, limit: int = 20) -> list[RowMapping]:
        n = sa.func.count().label("n")
        query = (
            sa.select(events.c.pack, events.c.intent, n)
            .where(events.c.intent.is_not(None), *window.on_events())
            .group_by(events.c.pack, events.c.intent)
            .order_by(n.desc(), events.c.intent)
            .limit(limit)
        )
        return self._rows(query)

    def _feedback_join(self) -> sa.Join:
        return feedback.outerjoin(events, events.c.reply_id == feedback.c.reply_id)

    def feedback_by_answer(self, window: Window) -> list[RowMapping]:
        """Helpful and unhelpful counts per (pack, intent, type); a reply whose event was dropped counts as unknown."""
        unhelpful = sa.func.sum(sa.case((feedback.c.helpful.is_(False), 1), else_=0)).label("unhelpful")
        helpful = sa.func.sum(sa.case((feedback.c.helpful.is_(True), 1), else_=0)).label("helpful")
        query = (
            sa.select(events.c.pack, events.c.intent, events.c.type, helpful, unhelpful)
            .select_from(self._feedback_join())
            .where(*window.period(feedback), *window.scope())
            .group_by(events.c.pack, events.c.intent, events.c.type)
            .order_by(unhelpful.desc(), helpful)
        )
        return self._rows(query)

    def unhelpful_comments(self, window: Window, limit: int = 500) -> list[RowMapping]:
        query = (
            sa.select(
                feedback.c.created_at,
                feedback.c.reply_id,
                feedback.c.comment,
                events.c.pack,
                events.c.intent,
                events.c.type,
                events.c.lang,
                events.c.text,
            )
            .select_from(self._feedback_join())
            .where(feedback.c.helpful.is_(False), feedback.c.comment.is_not(None))
            .where(*window.period(feedback), *window.scope())
            .order_by(feedback.c.created_at.desc())
            .limit(limit)
        )
        return self._rows(query)

    def unanswered_phrasings(self, window: Window, limit: int = 3000) -> list[RowMapping]:
        """Distinct kept texts (per pack and language) of fallback/clarify replies with counts, most frequent first."""
        n = sa.func.count().label("n")
        query = (
            sa.select(
                events.c.pack, events.c.lang, events.c.text, n, sa.func.max(events.c.created_at).label("last_seen")
            )
            .where(events.c.type.in_(UNANSWERED_TYPES), events.c.text.is_not(None), *window.on_events())
            .group_by(events.c.pack, events.c.lang, events.c.text)
            .order_by(n.desc(), sa.func.max(events.c.created_at).desc())
            .limit(limit)
        )
        return self._rows(query)

    def iter_events(self, window: Window) -> Iterator[RowMapping]:
        """Every event in the window, oldest first, with its feedback if any. Streams: rows are not all in memory."""
        self.ensure_schema()
        query = (
            sa.select(
                events.c.created_at,
                events.c.reply_id,
                events.c.pack,
                events.c.lang,
                events.c.type,
                events.c.intent,
                events.c.confidence,
                events.c.latency_ms,
                events.c.text,
                feedback.c.helpful,
                feedback.c.comment,
            )
            .select_from(events.outerjoin(feedback, feedback.c.reply_id == events.c.reply_id))
            .where(*window.on_events())
            .order_by(events.c.created_at, events.c.id)
        )
        with self.engine.connect() as conn:
            yield from conn.execution_options(yield_per=1000).execute(query).mappings()


# --- the recorder ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Event:
    reply_id: str
    created_at: datetime
    pack: str
    lang: str
    type: str
    intent: str | None
    confidence: float
    latency_ms: float
    text: str | None  # raw; only set for unanswered replies when keeping them, redacted by the writer

    def row(self) -> dict[str, Any]:
        return {
            "reply_id": self.reply_id,
            "created_at": self.created_at,
            "pack": self.pack,
            "lang": self.lang,
            "type": self.type,
            "intent": self.intent,
            "confidence": self.confidence,
            "latency_ms": self.latency_ms,
            "text": redact(self.text) if self.text is not None else None,
        }


@dataclass(frozen=True)
class _Feedback:
    reply_id: str
    created_at: datetime
    helpful: bool
    comment: str | None

    def row(self) -> dict[str, Any]:
        comment = (self.comment or "").strip()
        return {
            "reply_id": self.reply_id,
            "created_at": self.created_at,
            "helpful": self.helpful,
            "comment": redact(comment) if comment else None,
        }


class _Marker:
    """Put on the queue by `flush`: set once the writer has handled everything queued before it."""

    def __init__(self) -> None:
        self.done = threading.Event()


_STOP = object()


class Recorder:
    """Off-the-request-path recording: a bounded queue and one batching writer thread."""

    def __init__(
        self,
        store: Store,
        metrics: Metrics,
        *,
        keep_unanswered: bool = True,
        retention_days: int = 30,
        queue_size: int = 10_000,
        batch_size: int = 500,
        purge_every: float = 3600.0,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.keep_unanswered = keep_unanswered
        self.retention_days = retention_days
        self.batch_size = batch_size
        self.purge_every = purge_every
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._closed = False
        self._healthy = True
        self._next_purge = 0.0
        metrics.watch_queue(self._queue.qsize)

    @classmethod
    def from_settings(cls, store: Store, metrics: Metrics, settings: Settings) -> Recorder:
        return cls(store, metrics, keep_unanswered=settings.keep_unanswered, retention_days=settings.retention_days)

    # request side: never blocks, never raises

    def record_reply(self, pack: str, message: str, reply: Reply, latency_seconds: float) -> None:
        """Count the reply in the metrics and queue its event. Keeps the text only when the bot could not answer."""
        try:
            self.metrics.observe_reply(reply.type, latency_seconds)
            keep = self.keep_unanswered and reply.type in UNANSWERED_TYPES
            self._offer(
                _Event(
                    reply_id=reply.reply_id,
                    created_at=utcnow(),
                    pack=pack,
                    lang=reply.lang,
                    type=reply.type,
                    intent=reply.intent,
                    confidence=float(reply.confidence),
                    latency_ms=round(latency_seconds * 1000, 3),
                    text=message if keep else None,
                ),
                "event",
            )
        except Exception:  # recording must never break a chat
            log.exception("could not record a reply")

    def record_feedback(self, reply_id: str, helpful: bool, comment: str | None) -> None:
        try:
            self.metrics.observe_feedback(helpful)
            self._offer(_Feedback(reply_id, utcnow(), helpful, comment), "feedback")
        except Exception:
            log.exception("could not record feedback")

    def _offer(self, item: _Event | _Feedback, kind: str) -> None:
        if self._closed:
            self.metrics.dropped(kind, "stopped")
            return
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.metrics.dropped(kind, "queue_full")

    # lifecycle

    def start(self) -> Recorder:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="insights-writer", daemon=True)
            self._thread.start()
        return self

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far has been written or dropped. For tests and shutdown."""
        if self._thread is None or not self._thread.is_alive():
            return self._queue.empty()
        marker = _Marker()
        deadline = time.monotonic() + timeout
        try:
            self._queue.put(marker, timeout=timeout)
        except queue.Full:
            return False
        return marker.done.wait(max(0.0, deadline - time.monotonic()))

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then stop the writer. Later records are dropped and counted."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None and self._thread.is_alive():
            try:
                self._queue.put(_STOP, timeout=timeout)
            except queue.Full:
                log.warning("insights queue still full at shutdown; unwritten events are lost")
                return
            self._thread.join(timeout)

    # the writer thread

    def _run(self) -> None:
        self._maintain()
        while True:
            try:
                first = self._queue.get(timeout=max(0.01, self._next_purge - time.monotonic()))
            except queue.Empty:
                self._maintain()
                continue
            batch = [first]
            while len(batch) < self.batch_size:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._write([item for item in batch if isinstance(item, _Event | _Feedback)])
                if time.monotonic() >= self._next_purge:
                    self._maintain()
            except Exception:  # a bug here must not kill the only writer
                log.exception("insights writer failed on a batch")
            for item in batch:
                if isinstance(item, _Marker):
                    item.done.set()
            if any(item is _STOP for item in batch):
                return

    def _write(self, items: list[_Event | _Feedback]) -> None:
        if not items:
            return
        event_rows = [item.row() for item in items if isinstance(item, _Event)]
        feedback_rows = [item.row() for item in items if isinstance(item, _Feedback)]
        try:
            self.store.ensure_schema()
            self.store.write(event_rows, feedback_rows)
        except Exception as exc:
            self.store.forget_schema()  # the database may come back empty; check before the next batch
            self.metrics.dropped("event", "database", len(event_rows))
            self.metrics.dropped("feedback", "database", len(feedback_rows))
            self._set_healthy(False, exc)
        else:
            self._set_healthy(True)

    def _maintain(self) -> None:
        """Schema and retention, at start and then every `purge_every` seconds (sooner after a failure)."""
        try:
            self.store.ensure_schema()
            gone = self.store.purge(self.retention_days)
            if gone:
                log.info("retention: deleted %s insights rows older than %s days", gone, self.retention_days)
            self._next_purge = time.monotonic() + self.purge_every
        except Exception as exc:
            self.store.forget_schema()
            self._set_healthy(False, exc)
            self._next_purge = time.monotonic() + min(60.0, self.purge_every)

    def _set_healthy(self, healthy: bool, exc: BaseException | None = None) -> None:
        """Log the transitions only, so a long outage is one warning rather than one per batch."""
        if healthy and not self._healthy:
            log.info("insights database %s is reachable again", self.store.describe())
        elif not healthy and self._healthy:
            log.warning("insights database %s unavailable, dropping events: %s", self.store.describe(), exc)
        self._healthy = healthy
