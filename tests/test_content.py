"""The bundled mainland-China pack: every required topic, both languages, enough examples, citations, no myths."""

from pathlib import Path

import pytest
import yaml

from bot.pack import AUTHORED, SERVED

REQUIRED = [
    "crime.card_debt_crime",
    "crime.malicious_overdraft",
    "crime.police_threat",
    "contact.family",
    "contact.employer",
    "contact.contacts_blast",
    "contact.hours_frequency",
    "contact.home_visit",
    "contact.shaming",
    "contact.threats_abuse",
    "contact.impersonation",
    "contact.verify_collector",
    "contact.outsourcing",
    "evidence.record_calls",
    "evidence.keep_records",
    "complaint.channels",
    "repay.negotiate_installments",
    "repay.cannot_pay",
    "repay.fees_interest",
    "repay.debt_relief_scams",
    "credit.report_impact",
    "credit.report_dispute",
    "court.sued",
    "court.documents_verify",
    "court.dishonest_list",
    "court.consumption_limits",
    "court.enforcement",
    "court.limitation_period",
    "family.liability",
    "family.spouse_debt",
    "family.inheritance",
    "impact.job_exam",
    "loan.illegal_lending",
    "privacy.data_leak",
    "contact.rules",
    "contact.stop_contact",
    "contact.wrong_person",
    "contact.debt_sold",
    "credit.identity_theft",
    "repay.verify_amount",
    "repay.grace_period",
    "repay.demand_full_balance",
    "repay.bankruptcy",
    "court.costs",
    "safety.crisis",
    "safety.danger",
    "meta.human_help",
    "meta.greeting",
    "meta.thanks",
    "meta.about",
]
MYTHS = yaml.safe_load((Path(__file__).parent / "data" / "banned_myths.yaml").read_text(encoding="utf-8"))
ALLOWED_PHONES = {"12378", "12368", "12348", "110", "120", "12356", "12321", "12345", "010-82951332", "962525"}


def test_every_required_intent_exists(cn_engine):
    assert sorted(set(REQUIRED) - set(cn_engine.pack.intents)) == []


def test_shipped_model_and_calibration_match_the_examples(cn_engine):
    # After editing examples or synonyms: `python -m bot calibrate intents/cn --write`.
    assert cn_engine.pack.model is not None and not cn_engine.matcher.retrained
    assert cn_engine.pack.calibrated_for == cn_engine.matcher.model.key


@pytest.mark.parametrize("intent_id", REQUIRED)
def test_languages_examples_citations_related(cn_engine, intent_id):
    intent = cn_engine.pack.intents[intent_id]
    for lang in SERVED:
        assert intent.answer[lang].strip() and intent.title[lang].strip()
    minimum = {"zh-Hans": 15, "en": 8}
    for lang in AUTHORED:
        assert len(intent.examples[lang]) >= minimum[lang], lang
    if not intent_id.startswith("meta."):
        assert intent.citations, "cites nothing"
        assert all(c.title["zh-Hans"] and c.title["en"] for c in intent.citations)
    assert all(r in cn_engine.pack.intents for r in intent.related)
    assert intent.reviewed.startswith("20")


@pytest.mark.parametrize("intent_id", [i for i in REQUIRED if not i.startswith(("meta.", "safety."))])
def test_answer_shape(cn_engine, intent_id):
    intent = cn_engine.pack.intents[intent_id]
    for lang in AUTHORED:
        assert intent.answer[lang].startswith("**"), "the first line is the direct answer in bold"
    assert "中国大陆" in intent.answer["zh-Hans"] or "大陆" in intent.answer["zh-Hans"]
    assert "mainland China" in intent.answer["en"]
    assert 2 <= len(intent.related) <= 4


def test_traditional_answers_are_derived_not_hand_written(cn_engine):
    intent = cn_engine.pack.intents["crime.card_debt_crime"]
    assert intent.answer["zh-Hant"] != intent.answer["zh-Hans"]
    assert "髮卡" not in "".join(i.answer["zh-Hant"] for i in cn_engine.pack.intents.values())


@pytest.mark.parametrize("myth", MYTHS, ids=lambda m: m["phrase"])
def test_no_myth_stated_as_fact(cn_engine, myth):
    phrase, window = myth["phrase"].lower(), 14
    for intent in cn_engine.pack.intents.values():
        for lang, text in intent.answer.items():
            text = text.lower()
            start = text.find(phrase)
            while start != -1:
                context = text[max(0, start - window) : start + len(phrase) + window]
                assert any(w.lower() in context for w in myth["unless_near"]), f"{intent.id} ({lang}): {context!r}"
                start = text.find(phrase, start + 1)


def test_only_verified_phone_numbers(cn_engine):
    import re

    for intent in cn_engine.pack.intents.values():
        for text in intent.answer.values():
            for number in re.findall(r"(?<![\d.])\d[\d-]{2,}\d(?![\d.])", text):
                if len(number.replace("-", "")) >= 5 and not number.startswith(("19", "20")):
                    assert number in ALLOWED_PHONES, f"{intent.id}: {number}"


@pytest.mark.parametrize(
    ("shorthand", "chinese", "intent"),
    [
        ("txgz怎么申请", "停息挂账怎么申请", "repay.negotiate_installments"),
        ("gxhfq银行会同意吗", "个性化分期银行会同意吗", "repay.negotiate_installments"),
        ("cs要btxl了怎么办", "催收要爆通讯录了怎么办", "contact.contacts_blast"),
        ("收到chuanpiao了咋办", "收到传票了咋办", "court.documents_verify"),
        ("xyk yq会zuolao吗", "信用卡逾期会坐牢吗", "crime.card_debt_crime"),
    ],
)
def test_pinyin_shorthand_is_read_as_the_chinese_word(cn_engine, shorthand, chinese, intent):
    """Forum shorthand (停息挂账 txgz, 个性化分期 gxhfq, 爆通讯录 btxl) lives in pack.yaml synonyms, not in examples."""
    assert cn_engine.rank(shorthand)[0].intent == cn_engine.rank(chinese)[0].intent == intent
    mine, theirs = cn_engine.reply(shorthand), cn_engine.reply(chinese)
    assert (mine.type, mine.intent) == (theirs.type, theirs.intent)
