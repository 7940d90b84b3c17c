"""Crisis and danger come before anything else; threats and ordinary words about death are not a crisis."""

from pathlib import Path

import pytest
import yaml

CASES = yaml.safe_load((Path(__file__).parent / "data" / "safety_cases.yaml").read_text(encoding="utf-8"))


def test_enough_cases_in_every_script():
    for kind, minimum in (("crisis", 40), ("negative", 40), ("danger", 15), ("distress", 12)):
        assert len(CASES[kind]) >= minimum, kind
        assert {c["lang"] for c in CASES[kind]} == {"zh-Hans", "zh-Hant", "en"}, kind


@pytest.mark.parametrize("case", CASES["crisis"], ids=lambda c: c["text"][:30])
def test_crisis_messages_get_crisis_help_first(cn_engine, case):
    reply = cn_engine.reply(case["text"])
    assert (reply.type, reply.intent) == ("crisis", "safety.crisis")
    assert "12356" in reply.answer
    assert reply.lang == case["lang"]


@pytest.mark.parametrize("case", CASES["danger"], ids=lambda c: c["text"][:30])
def test_danger_messages_say_call_110(cn_engine, case):
    reply = cn_engine.reply(case["text"])
    assert (reply.type, reply.intent) == ("crisis", "safety.danger")
    assert "110" in reply.answer


@pytest.mark.parametrize("case", CASES["negative"], ids=lambda c: c["text"][:30])
def test_not_a_crisis(cn_engine, case):
    reply = cn_engine.reply(case["text"])
    assert reply.type != "crisis", reply.intent
    if case.get("threat"):
        assert reply.suggestions[0]["intent"] == "safety.crisis"
    if case.get("expect_intent"):
        assert cn_engine.rank(case["text"])[0].intent == case["expect_intent"]


@pytest.mark.parametrize("case", CASES["distress"], ids=lambda c: c["text"][:30])
def test_distress_gets_the_hotline_first(cn_engine, case):
    reply = cn_engine.reply(case["text"])
    if reply.type == "crisis":
        assert reply.intent == "safety.crisis" and "12356" in reply.answer
    else:
        assert reply.type == "answer", reply.type  # never "I did not understand" or a bare menu
        assert reply.suggestions[0]["intent"] == "safety.crisis"


def test_crisis_reply_in_traditional_is_traditional(cn_engine):
    reply = cn_engine.reply("我真的不想活了，欠了銀行好多錢")
    assert reply.lang == "zh-Hant" and reply.answer == cn_engine.pack.intents["safety.crisis"].answer["zh-Hant"]
