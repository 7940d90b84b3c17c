"""The counselor insights page, its exports and its access control, through real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import csv
import io
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.admin import csv_cell, group_unanswered, supplied_token
from bot.api import create_app
from bot.settings import Settings
from bot.store import utcnow

FIXTURES = Path(__file__).parent / "fixtures"
TOKEN = "s3cret-Token_42"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
PHONE = "13812345678"
PHONE_QUESTION = f"我想买一辆新车，号码{PHONE}"
ANSWERED = "信用卡逾期会坐牢吗"


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Empty for the default SQLite file, else a clean PostgreSQL database (skipped when unset, failed in CI)."""
    if request.param == "sqlite":
        return ""
    url = os.environ.get("BOT_TEST_POSTGRES_URL", "")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("BOT_TEST_POSTGRES_URL is not set in CI: the PostgreSQL tests must run there, not skip")
        pytest.skip("BOT_TEST_POSTGRES_URL is not set (no PostgreSQL server to test against)")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS events, feedback, schema_version CASCADE"))
    engine.dispose()
    return url


@pytest.fixture()
def make_app(tmp_path: Path, database_url: str) -> Iterator[Any]:
    apps: list[FastAPI] = []

    def make(**overrides: Any) -> tuple[TestClient, FastAPI]:
        values: dict[str, Any] = {
            "packs_dir": FIXTURES,
            "default_pack": "mini",
            "data_dir": tmp_path / "data",
            "database_url": database_url,
            "admin_token": TOKEN,
            "rate_limit": "10000/minute",
        }
        app = create_app(Settings(**{**values, **overrides}))
        apps.append(app)
        return TestClient(app, raise_server_exceptions=False), app

    yield make
    for app in apps:
        app.state.recorder.close()
        app.state.store.engine.dispose()


@pytest.fixture()
def site(make_app: Any) -> tuple[TestClient, FastAPI]:
    return make_app()


@pytest.fixture()
def sqlite_site(tmp_path: Path) -> Iterator[tuple[TestClient, FastAPI]]:
    """For access control, which is the same whatever the database."""
    app = create_app(Settings(packs_dir=FIXTURES, default_pack="mini", data_dir=tmp_path, admin_token=TOKEN))
    yield TestClient(app, raise_server_exceptions=False), app
    app.state.recorder.close()


def chat(client: TestClient, message: str, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/chat", json={"pack": "mini", "message": message, **body})
    assert response.status_code == 200, response.text
    return response.json()


def flushed(app: FastAPI) -> None:
    assert app.state.recorder.flush(10)


def parse_csv(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff"), "Excel needs the BOM to read UTF-8"
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


# --- access ---------------------------------------------------------------------------------------------------------

ADMIN_URLS = ["/admin", "/admin/export.csv?kind=events", "/admin/export.csv?kind=unanswered", "/admin/data.json"]


@pytest.mark.parametrize("url", ADMIN_URLS)
def test_without_a_configured_token_the_admin_pages_do_not_exist(tmp_path: Path, url: str) -> None:
    app = create_app(Settings(packs_dir=FIXTURES, default_pack="mini", data_dir=tmp_path))
    try:
        client = TestClient(app, raise_server_exceptions=False)
        assert client.get(url).status_code == 404
        assert client.get(url, headers={"Authorization": "Bearer "}).status_code == 404
        assert client.get(url, headers=basic("admin", "")).status_code == 404
    finally:
        app.state.recorder.close()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": "Bearer"},
        {"Authorization": f"Token {TOKEN}"},
        basic("admin", "wrong"),
        basic(TOKEN, ""),
        {"Authorization": "Basic !!!not-base64!!!"},
        {"Authorization": "Basic " + base64.b64encode(TOKEN.encode()).decode()},  # no colon: no password
    ],
)
def test_a_wrong_or_missing_token_is_401_with_a_challenge(sqlite_site: Any, headers: dict[str, str]) -> None:
    client, _ = sqlite_site
    for url in ADMIN_URLS:
        response = client.get(url, headers=headers)
        assert response.status_code == 401, url
        assert response.headers["www-authenticate"].startswith("Basic realm=")
        assert response.headers["x-content-type-options"] == "nosniff"
        assert TOKEN not in response.text


@pytest.mark.parametrize("headers", [BEARER, basic("counselor", TOKEN), basic("", TOKEN)])
def test_bearer_and_basic_with_the_token_as_password_get_in(sqlite_site: Any, headers: dict[str, str]) -> None:
    client, _ = sqlite_site
    assert client.get("/admin", headers=headers).status_code == 200


def test_a_non_ascii_token_works_through_basic(tmp_path: Path) -> None:
    app = create_app(Settings(packs_dir=FIXTURES, default_pack="mini", data_dir=tmp_path, admin_token="咨询员令牌"))
    client = TestClient(app, raise_server_exceptions=False)
    encoded = base64.b64encode("counselor:咨询员令牌".encode()).decode()
    assert client.get("/admin", headers={"Authorization": f"Basic {encoded}"}).status_code == 200
    assert client.get("/admin", headers=basic("counselor", "wrong")).status_code == 401
    app.state.recorder.close()


def test_supplied_token() -> None:
    assert supplied_token(f"Bearer {TOKEN}") == TOKEN
    assert supplied_token(f"bearer   {TOKEN} ") == TOKEN
    assert supplied_token(basic("u", "p:with:colons")["Authorization"]) == "p:with:colons"
    assert supplied_token("Basic " + base64.b64encode(b"\xff:\xfe").decode()) is None
    assert supplied_token("") is None and supplied_token("Digest x") is None


def test_bad_filters_are_a_clear_422_but_only_after_the_token(sqlite_site: Any) -> None:
    client, _ = sqlite_site
    for query, field in [
        ("from=yesterday", "from"),
        ("to=2024-13-01", "to"),
        ("from=2024-05-02&to=2024-05-01", "to"),
        ("lang=fr", "lang"),
        ("pack=%3Cscript%3E", "pack"),
        ("similarity=10", "similarity"),
        ("similarity=abc", "similarity"),
    ]:
        assert client.get(f"/admin?{query}").status_code == 401
        response = client.get(f"/admin?{query}", headers=BEARER)
        assert response.status_code == 422, query
        assert field in response.json()["detail"][0]["loc"], query
    assert client.get("/admin/export.csv?kind=bogus", headers=BEARER).status_code == 422
    assert client.get("/admin/export.csv", headers=BEARER).status_code == 422
    assert client.get("/admin/data.json?kind=bogus", headers=BEARER).status_code == 422
    # an empty form field means "no filter"
    assert client.get("/admin?from=&to=&lang=&pack=", headers=BEARER).status_code == 200


# --- what a counselor sees ------------------------------------------------------------------------------------------


def test_a_counselor_sees_and_exports_the_unanswered_question_redacted(site: Any) -> None:
    client, app = site
    assert chat(client, PHONE_QUESTION)["type"] == "fallback"
    chat(client, ANSWERED)
    flushed(app)
    redacted = "我想买一辆新车，号码[电话]"

    page = client.get("/admin", headers=basic("counselor", TOKEN))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert redacted in page.text and PHONE not in page.text
    assert ANSWERED not in page.text.split("Top intents")[0]  # answered questions are never listed as questions

    export = client.get("/admin/export.csv?kind=unanswered", headers=BEARER)
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    (row,) = parse_csv(export.text)
    assert row["phrasing"] == redacted and row["group_count"] == "1" and row["pack"] == "mini"
    assert PHONE not in export.text

    events = parse_csv(client.get("/admin/export.csv?kind=events", headers=BEARER).text)
    assert [e["type"] for e in events] == ["fallback", "answer"]
    assert events[0]["text"] == redacted and events[1]["text"] == ""

    data = client.get("/admin/data.json", headers=BEARER).json()
    assert data["unanswered"][0]["representative"] == redacted
    assert PHONE not in str(data)


def test_overview_counts_mix_fallback_rate_and_top_intents(site: Any) -> None:
    client, app = site
    for message in [ANSWERED, ANSWERED, "催收打电话给我爸妈", "今天天气怎么样", "我不想活了"]:
        chat(client, message)
    flushed(app)
    data = client.get("/admin/data.json", headers=BEARER).json()
    assert data["total"] == 5
    assert data["fallback_rate"] == pytest.approx(0.2)
    mix = {t["type"]: t["count"] for t in data["types"]}
    assert mix == {"answer": 3, "fallback": 1, "crisis": 1, "clarify": 0}
    assert data["types"][0] == {"type": "answer", "count": 3, "share": pytest.approx(0.6)}
    (today,) = data["by_day"]
    assert today["day"] == utcnow().date().isoformat()
    assert (today["total"], today["answer"], today["fallback"], today["crisis"]) == (5, 3, 1, 1)
    top = data["top_intents"][0]
    assert (top["intent"], top["count"], top["title"]) == ("crime.card_debt_crime", 2, "信用卡欠款会坐牢吗")
    page = client.get("/admin", headers=BEARER).text
    assert "20.0%" in page and "crime.card_debt_crime" in page


def test_unhelpful_answers_are_listed_with_their_comments(site: Any) -> None:
    client, app = site
    bad = chat(client, ANSWERED)["reply_id"]
    good = chat(client, "催收打电话给我爸妈")["reply_id"]
    also_bad = chat(client, ANSWERED)["reply_id"]
    client.post("/v1/feedback", json={"reply_id": bad, "helpful": False, "comment": f"没说清楚，我电话{PHONE}"})
    client.post("/v1/feedback", json={"reply_id": also_bad, "helpful": False})
    client.post("/v1/feedback", json={"reply_id": good, "helpful": True, "comment": "谢谢"})
    flushed(app)
    feedback = client.get("/admin/data.json", headers=BEARER).json()["feedback"]
    assert (feedback["helpful"], feedback["unhelpful"]) == (1, 2)
    (answer,) = feedback["answers"]
    assert (answer["intent"], answer["unhelpful"], answer["helpful"]) == ("crime.card_debt_crime", 2, 0)
    assert [c["comment"] for c in answer["comments"]] == ["没说清楚，我电话[电话]"]
    page = client.get("/admin", headers=BEARER).text
    assert "没说清楚，我电话[电话]" in page and PHONE not in page
    events = parse_csv(client.get("/admin/export.csv?kind=events", headers=BEARER).text)
    assert [(e["helpful"].lower(), e["comment"]) for e in events][0] == ("false", "没说清楚，我电话[电话]")


def test_unanswered_questions_are_grouped_by_similarity_most_frequent_first(site: Any) -> None:
    client, app = site
    for message in [
        "明天天气如何",
        "今天天气怎么样",
        "今天天气怎么样？",
        "今天天氣怎麼樣",
        "今天天气怎么样呢",
        "我想买一辆新车",
    ]:
        assert chat(client, message)["type"] == "fallback", message
    flushed(app)
    groups = client.get("/admin/data.json?kind=unanswered", headers=BEARER).json()["unanswered"]
    assert [g["count"] for g in groups] == [4, 1, 1]
    first = groups[0]
    assert {p["text"] for p in first["phrasings"]} == {
        "今天天气怎么样",
        "今天天气怎么样？",
        "今天天氣怎麼樣",
        "今天天气怎么样呢",
    }
    assert {g["representative"] for g in groups[1:]} == {"明天天气如何", "我想买一辆新车"}
    # ready to paste into a topic file: Traditional folded to Simplified (zh-Hant is derived), duplicates gone
    assert first["examples"] == {"zh-Hans": ["今天天气怎么样", "今天天气怎么样？", "今天天气怎么样呢"]}
    page = client.get("/admin", headers=BEARER).text
    assert "<pre>examples:\n  zh-Hans:\n  - 今天天气怎么样\n" in page
    rows = parse_csv(client.get("/admin/export.csv?kind=unanswered", headers=BEARER).text)
    assert [r["group"] for r in rows] == ["1", "1", "1", "1", "2", "3"]
    assert {r["group_count"] for r in rows[:4]} == {"4"}
    # a strict threshold splits what only looks alike
    strict = client.get("/admin/data.json?kind=unanswered&similarity=100", headers=BEARER).json()["unanswered"]
    assert [g["count"] for g in strict] == [3, 1, 1, 1]  # 3 = the same words in other script or punctuation


def test_filters_by_language_date_and_pack(site: Any) -> None:
    client, app = site
    chat(client, "how is the weather today")
    chat(client, "今天天气怎么样")
    flushed(app)
    old = utcnow() - timedelta(days=3)
    app.state.store.write(
        [
            {
                "reply_id": "f" * 32,
                "created_at": old,
                "pack": "other",
                "lang": "zh-Hans",
                "type": "fallback",
                "intent": None,
                "confidence": 0.0,
                "latency_ms": 1.0,
                "text": "三天前的问题",
            }
        ],
        [],
    )

    def texts(query: str) -> list[str]:
        response = client.get(f"/admin/data.json?kind=unanswered&{query}", headers=BEARER)
        assert response.status_code == 200, response.text
        return sorted(g["representative"] for g in response.json()["unanswered"])

    today = utcnow().date()
    assert texts("") == sorted(["how is the weather today", "今天天气怎么样", "三天前的问题"])
    assert texts("lang=en") == ["how is the weather today"]
    assert texts(f"from={today}") == sorted(["how is the weather today", "今天天气怎么样"])
    assert texts(f"to={today - timedelta(days=1)}") == ["三天前的问题"]
    assert texts(f"from={old.date()}&to={old.date()}&lang=zh-Hans") == ["三天前的问题"]
    assert texts("pack=other") == ["三天前的问题"]
    data = client.get(f"/admin/data.json?from={today}&lang=zh-Hans", headers=BEARER).json()
    assert data["total"] == 1 and data["filters"] == {
        "from": today.isoformat(),
        "to": None,
        "lang": "zh-Hans",
        "pack": None,
        "similarity": 75,
    }
    events = parse_csv(client.get("/admin/export.csv?kind=events&lang=en", headers=BEARER).text)
    assert [e["text"] for e in events] == ["how is the weather today"]
    page = client.get(f"/admin?lang=en&from={today}", headers=BEARER).text
    assert f'value="{today.isoformat()}"' in page and '<option value="en" selected>' in page
    assert f'href="admin/export.csv?from={today.isoformat()}&amp;lang=en&amp;similarity=75&amp;kind=events"' in page


# --- safety of what is shown ----------------------------------------------------------------------------------------


def test_every_database_value_is_html_escaped(site: Any) -> None:
    client, app = site
    attack = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    assert chat(client, attack)["type"] == "fallback"
    reply_id = chat(client, ANSWERED)["reply_id"]
    client.post("/v1/feedback", json={"reply_id": reply_id, "helpful": False, "comment": "<b>bold</b> & 'quoted'"})
    flushed(app)
    page = client.get("/admin", headers=BEARER).text
    assert "<script" not in page and "<img" not in page and "<b>bold" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &#x27;quoted&#x27;" in page


def test_security_headers_on_every_admin_response(site: Any) -> None:
    client, app = site
    for url in ADMIN_URLS:
        response = client.get(url, headers=BEARER)
        assert response.status_code == 200, url
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == "no-store"
    page = client.get("/admin", headers=BEARER).text
    assert "<script" not in page and " on" + "click" not in page


@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_csv_cells_that_would_run_as_formulas_are_defused(site: Any, start: str) -> None:
    client, app = site
    question = f"{start}1+2 这是什么"
    assert chat(client, question)["type"] == "fallback"
    flushed(app)
    (group,) = parse_csv(client.get("/admin/export.csv?kind=unanswered", headers=BEARER).text)
    assert group["phrasing"] == "'" + question and group["representative"] == "'" + question
    (event,) = parse_csv(client.get("/admin/export.csv?kind=events", headers=BEARER).text)
    assert event["text"] == "'" + question
    # JSON is data, not a spreadsheet: unchanged
    assert client.get("/admin/data.json?kind=unanswered", headers=BEARER).json()["unanswered"][0]["representative"] == (
        question
    )


def test_csv_cell() -> None:
    assert [csv_cell(v) for v in ["=A1", "+1", "-1", "@x", "\tx", "ok", "", None, -1.5, 3]] == [
        "'=A1",
        "'+1",
        "'-1",
        "'@x",
        "'\tx",
        "ok",
        "",
        "",
        -1.5,
        3,
    ]


def test_the_admin_page_answers_503_while_the_database_is_down(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    app = create_app(Settings(packs_dir=FIXTURES, default_pack="mini", data_dir=data_dir, admin_token=TOKEN))
    try:
        client = TestClient(app, raise_server_exceptions=False)
        assert app.state.recorder.flush(10)
        data_dir.rename(tmp_path / "away")
        data_dir.write_text("not a directory")
        app.state.store.forget_schema()
        for url in ADMIN_URLS:
            response = client.get(url, headers=BEARER)
            assert response.status_code == 503, url
            assert response.headers["x-content-type-options"] == "nosniff"
        assert chat(client, ANSWERED)["type"] == "answer"
        data_dir.unlink()
        (tmp_path / "away").rename(data_dir)
        assert client.get("/admin", headers=BEARER).status_code == 200
    finally:
        app.state.recorder.close()


# --- grouping, as a function ----------------------------------------------------------------------------------------


def test_group_unanswered_is_greedy_per_pack_and_biggest_first() -> None:
    now = utcnow()

    def row(pack: str, text: str, n: int, days_ago: int = 0) -> dict[str, Any]:
        return {"pack": pack, "lang": "en", "text": text, "n": n, "last_seen": now - timedelta(days=days_ago)}

    groups = group_unanswered(
        [
            row("cn", "how do I stop collectors calling my boss", 2),
            row("cn", "How do I stop collectors calling my boss?", 1),
            row("cn", "stop collectors calling my boss", 1),
            row("cn", "what is the weather", 3),
            row("other", "how do I stop collectors calling my boss", 5),
            row("cn", "", 1),
            row("cn", "???", 1),
        ],
        threshold=80,
    )
    assert [(g.pack, g.count) for g in groups] == [("other", 5), ("cn", 4), ("cn", 3), ("cn", 1), ("cn", 1)]
    boss = groups[1]
    assert boss.representative == "how do I stop collectors calling my boss"
    assert [p.text for p in boss.phrasings] == [
        "how do I stop collectors calling my boss",
        "How do I stop collectors calling my boss?",
        "stop collectors calling my boss",
    ]
    assert group_unanswered([], 80) == []


def test_group_unanswered_ties_go_to_the_most_recent() -> None:
    now = utcnow()
    groups = group_unanswered(
        [
            {"pack": "cn", "lang": "en", "text": "older question", "n": 1, "last_seen": now - timedelta(days=2)},
            {"pack": "cn", "lang": "en", "text": "newer thing", "n": 1, "last_seen": now},
        ],
        threshold=90,
    )
    assert [g.representative for g in groups] == ["newer thing", "older question"]
