"""Recording insights: what is stored (and what is not), retention, migrations, and surviving a database outage.

Every storage test runs on SQLite and on a real PostgreSQL server (`BOT_TEST_POSTGRES_URL`; skipped when unset,
except in CI, where a missing server fails). The outage tests stop the real server (`BOT_TEST_PG_CTL`) or make
the SQLite file's directory disappear.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.api import create_app
from bot.dialogue import Engine
from bot.metrics import Metrics
from bot.settings import Settings
from bot.store import MIGRATIONS, Recorder, Store, database_url, events, feedback, metadata, utcnow

FIXTURES = Path(__file__).parent / "fixtures"
PHONE = "13812345678"
FALLBACK = f"我想买一辆新车，号码{PHONE}"
ANSWERED = "信用卡逾期会坐牢吗"


def postgres_url() -> str:
    url = os.environ.get("BOT_TEST_POSTGRES_URL", "")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("BOT_TEST_POSTGRES_URL is not set in CI: the PostgreSQL tests must run there, not skip")
        pytest.skip("BOT_TEST_POSTGRES_URL is not set (no PostgreSQL server to test against)")
    return url


def pg_ctl(action: str) -> None:
    prefix = os.environ.get("BOT_TEST_PG_CTL", "")
    if not prefix:
        if os.environ.get("CI") == "true":
            pytest.fail("BOT_TEST_PG_CTL is not set in CI: the outage test must stop and start the server")
        pytest.skip("BOT_TEST_PG_CTL is not set (cannot stop and start the PostgreSQL server)")
    done = subprocess.run(f"{prefix} {action}", shell=True, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"pg_ctl {action} failed: {done.stdout}{done.stderr}"


@dataclass
class Database:
    """One backend under test: settings for apps on it, and a way to take it away and bring it back."""

    kind: str
    url: str
    data_dir: Path
    apps: list[FastAPI] = field(default_factory=list)

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "packs_dir": FIXTURES,
            "default_pack": "mini",
            "data_dir": self.data_dir,
            "database_url": self.url if self.kind == "postgresql" else "",
            "rate_limit": "10000/minute",
            "admin_token": "s3cret",
        }
        return Settings(**{**values, **overrides})

    def app(self, **overrides: Any) -> tuple[TestClient, FastAPI]:
        app = create_app(self.settings(**overrides))
        self.apps.append(app)
        return TestClient(app, raise_server_exceptions=False), app

    def engine(self) -> sa.Engine:
        return sa.create_engine(database_url(self.settings()), poolclass=sa.pool.NullPool)

    def down(self) -> None:
        if self.kind == "postgresql":
            pg_ctl("stop")
        else:  # the directory goes away and a file takes its place, so nothing can quietly recreate it
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self.data_dir.rename(self.data_dir.with_name("moved-away"))
            self.data_dir.write_text("not a directory")

    def up(self) -> None:
        if self.kind == "postgresql":
            pg_ctl("start")
        else:
            self.data_dir.unlink()
            self.data_dir.with_name("moved-away").rename(self.data_dir)

    def dump(self) -> str:
        """Every row of every table, as text: for asserting that something appears nowhere in the database."""
        engine = self.engine()
        reflected = sa.MetaData()
        reflected.reflect(engine)
        with engine.connect() as conn:
            rows = [list(conn.execute(sa.select(t))) for t in reflected.sorted_tables]
        engine.dispose()
        text = repr(rows)
        if self.kind == "sqlite":  # the raw file too, including pages SQLite freed but did not wipe
            for path in self.data_dir.glob("insights.db*"):
                text += path.read_bytes().decode("utf-8", "replace")
        return text


def reset_postgres(url: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS events, feedback, schema_version CASCADE"))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"BOT_TEST_POSTGRES_URL is set but the server does not answer: {exc}")
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    url = ""
    if request.param == "postgresql":
        url = postgres_url()
        reset_postgres(url)
    db = Database(request.param, url, tmp_path / "data")
    yield db
    for app in db.apps:
        app.state.recorder.close()
        app.state.store.engine.dispose()


def chat(client: TestClient, message: str, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/chat", json={"pack": "mini", "message": message, **body})
    assert response.status_code == 200, response.text
    return response.json()


def flush(app: FastAPI) -> None:
    assert app.state.recorder.flush(10), "the writer did not catch up"


def rows(db: Database, table: sa.Table) -> list[dict[str, Any]]:
    engine = db.engine()
    with engine.connect() as conn:
        found = [dict(r) for r in conn.execute(sa.select(table).order_by(table.c.id)).mappings()]
    engine.dispose()
    return found


def dropped(app: FastAPI, reason: str, kind: str = "event") -> float:
    value = app.state.metrics.registry.get_sample_value("bot_insights_dropped_total", {"kind": kind, "reason": reason})
    return value or 0.0


# --- what is recorded -----------------------------------------------------------------------------------------------


def test_first_start_creates_the_sqlite_file_with_no_set_up(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh" / "data"
    app = create_app(Settings(packs_dir=FIXTURES, default_pack="mini", data_dir=data_dir))
    try:
        chat(TestClient(app), ANSWERED)
        flush(app)
        assert (data_dir / "insights.db").is_file()
        assert app.state.store.version() == len(MIGRATIONS)
    finally:
        app.state.recorder.close()


def test_every_reply_is_an_event(database: Database) -> None:
    client, app = database.app()
    answered = chat(client, ANSWERED)
    unanswered = chat(client, "how is the weather today")
    flush(app)
    found = rows(database, events)
    assert [r["reply_id"] for r in found] == [answered["reply_id"], unanswered["reply_id"]]
    first, second = found
    assert (first["pack"], first["lang"], first["type"], first["intent"]) == (
        "mini",
        "zh-Hans",
        "answer",
        "crime.card_debt_crime",
    )
    assert first["confidence"] == pytest.approx(answered["confidence"])
    assert first["latency_ms"] > 0
    assert abs(first["created_at"] - utcnow()) < timedelta(minutes=1)
    assert (second["lang"], second["type"], second["intent"]) == ("en", "fallback", None)


def test_unanswered_text_is_kept_redacted_and_answered_text_is_not_kept(database: Database) -> None:
    client, app = database.app()
    assert chat(client, FALLBACK)["type"] == "fallback"
    assert chat(client, ANSWERED)["type"] == "answer"
    flush(app)
    fallback, answer = rows(database, events)
    assert fallback["text"] == "我想买一辆新车，号码[电话]"
    assert answer["text"] is None
    everything = database.dump()
    assert PHONE not in everything
    assert ANSWERED not in everything


def as_clarify(monkeypatch: pytest.MonkeyPatch, app: FastAPI) -> None:
    """Make the mini pack answer "did you mean": which messages the matcher finds ambiguous is its own business."""
    engine = app.state.engines["mini"]
    decide = engine.reply

    def clarify(message: str, lang: str = "auto") -> Any:
        reply = decide(message, lang)
        reply.type, reply.intent = "clarify", None
        return reply

    monkeypatch.setattr(engine, "reply", clarify)


def test_clarify_text_is_kept_too(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    client, app = database.app()
    as_clarify(monkeypatch, app)
    assert chat(client, f"信用卡的事，我的电话是{PHONE}")["type"] == "clarify"
    flush(app)
    assert rows(database, events)[0]["text"] == "信用卡的事，我的电话是[电话]"


def test_keep_unanswered_off_keeps_no_text(database: Database) -> None:
    client, app = database.app(keep_unanswered=False)
    chat(client, FALLBACK)
    flush(app)
    (event,) = rows(database, events)
    assert event["type"] == "fallback" and event["text"] is None
    assert "新车" not in database.dump()


def test_feedback_is_recorded_with_a_redacted_comment(database: Database) -> None:
    client, app = database.app()
    reply_id = chat(client, ANSWERED)["reply_id"]
    response = client.post(
        "/v1/feedback",
        json={"reply_id": reply_id, "helpful": False, "comment": f"没用，打我 {PHONE} 或 me@example.com"},
    )
    assert response.status_code == 202 and response.json() == {"status": "recorded"}
    flush(app)
    (row,) = rows(database, feedback)
    assert row["reply_id"] == reply_id and row["helpful"] is False
    assert row["comment"] == "没用，打我 [电话] 或 [邮箱]"
    assert PHONE not in database.dump() and "me@example.com" not in database.dump()


def test_changed_feedback_replaces_the_earlier_one(database: Database) -> None:
    client, app = database.app()
    reply_id = chat(client, ANSWERED)["reply_id"]
    client.post("/v1/feedback", json={"reply_id": reply_id, "helpful": False, "comment": "  "})
    flush(app)
    client.post("/v1/feedback", json={"reply_id": reply_id, "helpful": True})
    flush(app)
    (row,) = rows(database, feedback)
    assert row["helpful"] is True and row["comment"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "reply_id"),
        ({"helpful": True}, "reply_id"),
        ({"reply_id": "abc", "helpful": True}, "reply_id"),
        ({"reply_id": "x" * 65, "helpful": True}, "reply_id"),
        ({"reply_id": "<script>alert(1)</script>", "helpful": True}, "reply_id"),
        ({"reply_id": 12345678, "helpful": True}, "reply_id"),
        ({"reply_id": "a" * 32}, "helpful"),
        ({"reply_id": "a" * 32, "helpful": "yes"}, "helpful"),
        ({"reply_id": "a" * 32, "helpful": 1}, "helpful"),
        ({"reply_id": "a" * 32, "helpful": False, "comment": "长" * 1001}, "comment"),
        ({"reply_id": "a" * 32, "helpful": False, "comment": 5}, "comment"),
    ],
)
def test_bad_feedback_is_a_clear_422(tmp_path: Path, body: dict[str, Any], field: str) -> None:
    app = create_app(Settings(packs_dir=FIXTURES, default_pack="mini", data_dir=tmp_path))
    try:
        response = TestClient(app, raise_server_exceptions=False).post("/v1/feedback", json=body)
        assert response.status_code == 422, response.text
        assert field in {part for error in response.json()["detail"] for part in map(str, error["loc"])}
    finally:
        app.state.recorder.close()


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b'"text"', b"null"])
def test_feedback_that_is_not_an_object_is_a_422(tmp_path: Path, raw: bytes) -> None:
    app = create_app(Settings(packs_dir=FIXTURES, default_pack="mini", data_dir=tmp_path))
    try:
        client = TestClient(app, raise_server_exceptions=False)
        response = client.post("/v1/feedback", content=raw, headers={"Content-Type": "application/json"})
        assert response.status_code == 422
    finally:
        app.state.recorder.close()


def test_a_1000_character_comment_is_accepted(tmp_path: Path) -> None:
    app = create_app(Settings(packs_dir=FIXTURES, default_pack="mini", data_dir=tmp_path))
    try:
        body = {"reply_id": "a" * 32, "helpful": False, "comment": "长" * 1000}
        assert TestClient(app).post("/v1/feedback", json=body).status_code == 202
    finally:
        app.state.recorder.close()


# --- schema ---------------------------------------------------------------------------------------------------------


def test_migrations_build_the_shape_the_queries_use(database: Database) -> None:
    store = Store(database_url(database.settings()))
    assert store.migrate() == len(MIGRATIONS)
    inspector = sa.inspect(store.engine)
    for table in metadata.sorted_tables:
        assert {c["name"] for c in inspector.get_columns(table.name)} == set(table.columns.keys()), table.name
    assert {i["name"] for i in inspector.get_indexes("events")} >= {"ix_events_created_at", "ix_events_reply_id"}
    store.engine.dispose()


def test_instances_starting_together_migrate_once(database: Database) -> None:
    database.data_dir.mkdir(parents=True, exist_ok=True)
    stores = [Store(database_url(database.settings())) for _ in range(4)]
    results: list[Any] = []

    def run(store: Store) -> None:
        try:
            results.append(store.migrate())
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == [len(MIGRATIONS)] * 4
    assert stores[0].version() == len(MIGRATIONS)
    assert stores[0].migrate() == len(MIGRATIONS)  # idempotent
    for store in stores:
        store.engine.dispose()


def test_database_url() -> None:
    assert database_url(Settings(data_dir=Path("/srv/bot"))) == "sqlite:////srv/bot/insights.db"
    pg = "postgresql+psycopg://u:p@db/bot"
    assert database_url(Settings(database_url="postgresql://u:p@db/bot")) == pg
    assert database_url(Settings(database_url="postgres://u:p@db/bot")) == pg
    assert database_url(Settings(database_url=pg)) == pg


# --- retention ------------------------------------------------------------------------------------------------------


def old_rows(days_ago: int) -> tuple[dict[str, Any], dict[str, Any]]:
    when = utcnow() - timedelta(days=days_ago)
    event = {
        "reply_id": f"old{days_ago:029d}",
        "created_at": when,
        "pack": "mini",
        "lang": "zh-Hans",
        "type": "fallback",
        "intent": None,
        "confidence": 0.1,
        "latency_ms": 1.0,
        "text": f"{days_ago} 天前的问题",
    }
    return event, {"reply_id": event["reply_id"], "created_at": when, "helpful": False, "comment": "旧的"}


def test_retention_deletes_old_rows_when_the_service_starts(database: Database) -> None:
    client, app = database.app(retention_days=30)
    recent = chat(client, FALLBACK)["reply_id"]
    flush(app)
    old_event, old_feedback = old_rows(31)
    kept_event, kept_feedback = old_rows(29)
    app.state.store.write([old_event, kept_event], [old_feedback, kept_feedback])
    assert len(rows(database, events)) == 3

    _, restarted = database.app(retention_days=30)  # the writer purges when it starts
    flush(restarted)
    assert {r["reply_id"] for r in rows(database, events)} == {recent, kept_event["reply_id"]}
    assert [r["reply_id"] for r in rows(database, feedback)] == [kept_feedback["reply_id"]]


def test_retention_runs_again_while_the_service_runs(database: Database) -> None:
    store = Store(database_url(database.settings()))
    store.migrate()
    recorder = Recorder(store, Metrics(), retention_days=30, purge_every=0.05).start()
    try:
        old_event, old_feedback = old_rows(45)
        store.write([old_event], [old_feedback])
        deadline = time.monotonic() + 10
        while rows(database, events) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rows(database, events) == [] and rows(database, feedback) == []
    finally:
        recorder.close()
        store.engine.dispose()


def test_retention_of_zero_days_keeps_everything(database: Database) -> None:
    store = Store(database_url(database.settings()))
    store.migrate()
    store.write([old_rows(400)[0]], [])
    assert store.purge(0) == 0 and store.purge(-1) == 0
    assert len(rows(database, events)) == 1
    assert store.purge(30) == 1
    store.engine.dispose()


# --- never slow, never broken ---------------------------------------------------------------------------------------


def test_database_down_chat_still_answers_and_recording_recovers(database: Database) -> None:
    client, app = database.app()
    chat(client, "今天天气怎么样")
    flush(app)
    assert len(rows(database, events)) == 1

    database.down()
    try:
        started = time.perf_counter()
        body = chat(client, "明天天气如何")
        assert body["type"] == "fallback"
        assert time.perf_counter() - started < 1.0, "a chat waited for the database"
        reply_id = body["reply_id"]
        assert client.post("/v1/feedback", json={"reply_id": reply_id, "helpful": False}).status_code == 202
        flush(app)
        assert dropped(app, "database") == 1
        assert dropped(app, "database", kind="feedback") == 1
        metrics = client.get("/metrics").text
        assert 'bot_insights_dropped_total{kind="event",reason="database"} 1.0' in metrics
    finally:
        database.up()

    chat(client, "我想买一辆新车")
    flush(app)
    assert [r["text"] for r in rows(database, events)] == ["今天天气怎么样", "我想买一辆新车"]
    assert dropped(app, "database") == 1


def test_database_down_at_start_the_service_starts_and_recovers(database: Database) -> None:
    database.down()
    try:
        client, app = database.app()
        assert chat(client, ANSWERED)["type"] == "answer"
        flush(app)
        assert dropped(app, "database") == 1
    finally:
        database.up()
    chat(client, "今天天气怎么样")
    flush(app)
    assert [r["type"] for r in rows(database, events)] == ["fallback"]


def test_a_full_queue_drops_and_counts_without_blocking(tmp_path: Path, mini_engine: Engine) -> None:
    metrics = Metrics()
    recorder = Recorder(Store(f"sqlite:///{tmp_path / 'never-written.db'}"), metrics, queue_size=2)  # not started
    reply = mini_engine.reply(ANSWERED)
    started = time.perf_counter()
    for _ in range(5):
        recorder.record_reply("mini", ANSWERED, reply, 0.001)
    recorder.record_feedback(reply.reply_id, True, None)
    assert time.perf_counter() - started < 0.5
    sample = metrics.registry.get_sample_value
    assert sample("bot_insights_dropped_total", {"kind": "event", "reason": "queue_full"}) == 3
    assert sample("bot_insights_dropped_total", {"kind": "feedback", "reason": "queue_full"}) == 1
    assert sample("bot_chat_replies_total", {"type": "answer"}) == 5  # metrics count even what is dropped


def test_close_writes_what_is_queued_and_later_records_are_counted(database: Database) -> None:
    client, app = database.app()
    chat(client, "今天天气怎么样")
    app.state.recorder.close()
    assert len(rows(database, events)) == 1
    chat(client, "明天天气如何")  # still answered
    assert dropped(app, "stopped") == 1


def test_recording_errors_never_reach_the_chat(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    client, app = database.app()

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(app.state.recorder, "_offer", broken)
    assert chat(client, ANSWERED)["type"] == "answer"
    assert client.post("/v1/feedback", json={"reply_id": "a" * 32, "helpful": True}).status_code == 202


def test_shutdown_closes_the_recorder(tmp_path: Path) -> None:
    app = create_app(Settings(packs_dir=FIXTURES, default_pack="mini", data_dir=tmp_path))
    with TestClient(app) as client:
        chat(client, "今天天气怎么样")
    assert app.state.recorder._thread is not None and not app.state.recorder._thread.is_alive()
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'insights.db'}")
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one() == 1
    engine.dispose()
