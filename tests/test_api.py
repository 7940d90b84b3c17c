import pytest


def chat(client, **body):
    return client.post("/v1/chat", json={"pack": "mini", **body})


def test_chat_answer_shape(mini_client):
    response = chat(mini_client, message="信用卡逾期会坐牢吗")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "type",
        "intent",
        "confidence",
        "lang",
        "title",
        "answer",
        "citations",
        "suggestions",
        "disclaimer",
        "reply_id",
    }
    assert body["type"] == "answer" and body["intent"] == "crime.card_debt_crime"
    assert body["citations"][0] == {
        "title": "《中华人民共和国刑法》",
        "article": "第一百九十六条",
        "url": "https://flk.npc.gov.cn/",
    }
    assert body["disclaimer"] == "这是测试。" and len(body["reply_id"]) == 32


def test_reply_ids_differ(mini_client):
    ids = {chat(mini_client, message="信用卡逾期会坐牢吗").json()["reply_id"] for _ in range(3)}
    assert len(ids) == 3


def test_chat_lang_override(mini_client):
    body = chat(mini_client, message="信用卡逾期会坐牢吗", lang="zh-Hant").json()
    assert body["lang"] == "zh-Hant" and body["title"] == "信用卡欠款會坐牢嗎"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"message": ""}, "message"),
        ({"message": "   \n\t "}, "message"),
        ({"message": "坐" * 1001}, "message"),
        ({"message": 123}, "message"),
        ({"message": ["a"]}, "message"),
        ({"message": None}, "message"),
        ({}, "message"),
        ({"message": "hi", "lang": "fr"}, "lang"),
        ({"message": "hi", "lang": 5}, "lang"),
        ({"message": "hi", "pack": "nope"}, "pack"),
        ({"message": "hi", "pack": 7}, "pack"),
    ],
)
def test_bad_chat_input_is_a_clear_422(mini_client, body, field):
    response = mini_client.post("/v1/chat", json={"pack": "mini", **body} if "pack" not in body else body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert any(field in [str(x) for x in d["loc"]] for d in detail), detail
    assert all(d["msg"] for d in detail)


def test_message_of_exactly_the_limit_is_accepted(mini_client):
    assert chat(mini_client, message="坐" * 1000).status_code == 200


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b'{"message": "unterminated',
        b"\xff\xfe\xfa",
        b"[1, 2, 3]",
        b'"just a string"',
        b"",
        b'{"message": "\xe4\xbd"}',
    ],
)
def test_body_that_is_not_a_json_object_is_a_4xx(mini_client, raw):
    response = mini_client.post("/v1/chat", content=raw, headers={"Content-Type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    assert "detail" in response.json()


def test_intents_list_and_detail(mini_client):
    listing = mini_client.get("/v1/intents", params={"lang": "en", "pack": "mini"}).json()
    assert {"id": "contact.family", "title": "May collectors contact my family?", "category": "contact"} in listing
    detail = mini_client.get("/v1/intents/crime.card_debt_crime", params={"lang": "zh-Hant", "pack": "mini"})
    assert detail.status_code == 200
    assert detail.json()["citations"][0]["article"] == "第一百九十六條"


def test_unknown_intent_is_a_json_404(mini_client):
    response = mini_client.get("/v1/intents/no.such", params={"pack": "mini"})
    assert response.status_code == 404 and "no.such" in response.json()["detail"]


def test_unknown_lang_on_get_is_422(mini_client):
    assert mini_client.get("/v1/intents", params={"lang": "xx", "pack": "mini"}).status_code == 422


def test_health_and_docs(mini_client):
    health = mini_client.get("/healthz").json()
    assert health["status"] == "ok" and health["packs"]["mini"] == 6
    assert mini_client.get("/docs").status_code == 200
    schema = mini_client.get("/openapi.json").json()
    assert schema["components"]["schemas"]["ChatRequest"]["examples"][0]["message"] == "信用卡逾期会坐牢吗"
