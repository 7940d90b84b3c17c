"""`GET /metrics`: Prometheus text format, replies and latency by type, fallback share, feedback, dropped records."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from bot.api import create_app
from bot.metrics import Metrics
from bot.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures"
MESSAGES = {
    "answer": "信用卡逾期会坐牢吗",
    "clarify": "信用卡的事，我的电话是13812345678",
    "fallback": "今天天气怎么样",
    "crisis": "我不想活了",
}


@pytest.fixture()
def make_app(tmp_path: Path) -> Iterator[Any]:
    apps: list[FastAPI] = []

    def make() -> tuple[TestClient, FastAPI]:
        settings = Settings(
            packs_dir=FIXTURES, default_pack="mini", data_dir=tmp_path / str(len(apps)), rate_limit="10000/minute"
        )
        app = create_app(settings)
        apps.append(app)
        return TestClient(app, raise_server_exceptions=False), app

    yield make
    for app in apps:
        app.state.recorder.close()


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def chat(client: TestClient, message: str) -> dict[str, Any]:
    response = client.post("/v1/chat", json={"pack": "mini", "message": message})
    assert response.status_code == 200
    return response.json()


def test_replies_and_latency_are_counted_by_reply_type(make_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    client, app = make_app()
    engine = app.state.engines["mini"]
    decide = engine.reply

    def reply(message: str, lang: str = "auto") -> Any:
        """Which messages the matcher finds ambiguous is its own business: this one is a "did you mean"."""
        found = decide(message, lang)
        if message == MESSAGES["clarify"]:
            found.type, found.intent = "clarify", None
        return found

    monkeypatch.setattr(engine, "reply", reply)
    for kind, message in MESSAGES.items():
        assert chat(client, message)["type"] == kind
    chat(client, MESSAGES["answer"])
    samples = scrape(client)
    counts = {kind: samples[("bot_chat_replies_total", (("type", kind),))] for kind in MESSAGES}
    assert counts == {"answer": 2, "clarify": 1, "fallback": 1, "crisis": 1}
    assert samples[("bot_chat_latency_seconds_count", (("type", "answer"),))] == 2
    assert samples[("bot_chat_latency_seconds_sum", (("type", "answer"),))] > 0
    assert samples[("bot_chat_latency_seconds_bucket", (("le", "+Inf"), ("type", "fallback")))] == 1
    assert samples[("bot_chat_fallback_ratio", ())] == pytest.approx(1 / 5)


def test_invalid_requests_are_not_counted_as_replies(make_app: Any) -> None:
    client, _ = make_app()
    assert client.post("/v1/chat", json={"pack": "mini", "message": ""}).status_code == 422
    samples = scrape(client)
    assert sum(v for (name, _), v in samples.items() if name == "bot_chat_replies_total") == 0
    assert samples[("bot_chat_fallback_ratio", ())] == 0


def test_feedback_is_counted(make_app: Any) -> None:
    client, _ = make_app()
    reply_id = chat(client, MESSAGES["answer"])["reply_id"]
    for helpful in (True, False, False):
        assert client.post("/v1/feedback", json={"reply_id": reply_id, "helpful": helpful}).status_code == 202
    samples = scrape(client)
    assert samples[("bot_feedback_total", (("helpful", "true"),))] == 1
    assert samples[("bot_feedback_total", (("helpful", "false"),))] == 2


def test_every_series_exists_at_zero_from_the_start(make_app: Any) -> None:
    client, _ = make_app()
    samples = scrape(client)
    for kind in ("event", "feedback"):
        for reason in ("queue_full", "database", "stopped"):
            assert samples[("bot_insights_dropped_total", (("kind", kind), ("reason", reason)))] == 0
    for kind in MESSAGES:
        assert samples[("bot_chat_replies_total", (("type", kind),))] == 0
    assert ("bot_insights_queue_depth", ()) in samples


def test_apps_in_one_process_have_their_own_registries(make_app: Any) -> None:
    first, _ = make_app()
    second, _ = make_app()  # would raise "Duplicated timeseries" with the global registry
    chat(first, MESSAGES["fallback"])
    assert scrape(first)[("bot_chat_replies_total", (("type", "fallback"),))] == 1
    assert scrape(second)[("bot_chat_replies_total", (("type", "fallback"),))] == 0


def test_dropped_records_and_queue_depth() -> None:
    metrics = Metrics()
    metrics.watch_queue(lambda: 7)
    metrics.dropped("event", "database", 3)
    metrics.dropped("event", "database", 0)
    metrics.dropped("feedback", "queue_full")
    text = metrics.render().decode()
    assert 'bot_insights_dropped_total{kind="event",reason="database"} 3.0' in text
    assert 'bot_insights_dropped_total{kind="feedback",reason="queue_full"} 1.0' in text
    assert "bot_insights_queue_depth 7.0" in text


def test_metrics_carry_no_personal_data(make_app: Any) -> None:
    client, _ = make_app()
    chat(client, MESSAGES["clarify"])
    text = client.get("/metrics").text
    assert "13812345678" not in text and "天气" not in text
