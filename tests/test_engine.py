from bot.dialogue import is_within


def test_answers_a_clear_question_with_citation(mini_engine):
    reply = mini_engine.reply("信用卡逾期了会不会坐牢")
    assert (reply.type, reply.intent, reply.lang) == ("answer", "crime.card_debt_crime", "zh-Hans")
    assert reply.citations == [
        {"title": "《中华人民共和国刑法》", "article": "第一百九十六条", "url": "https://flk.npc.gov.cn/"}
    ]
    assert [s["intent"] for s in reply.suggestions] == ["contact.family"]
    assert 0 < reply.confidence <= 1


def test_traditional_in_traditional_out(mini_engine):
    reply = mini_engine.reply("信用卡逾期會坐牢嗎")
    assert reply.lang == "zh-Hant" and reply.intent == "crime.card_debt_crime"
    assert reply.title == "信用卡欠款會坐牢嗎" and reply.citations[0]["title"] == "《中華人民共和國刑法》"


def test_lang_parameter_overrides_detection(mini_engine):
    reply = mini_engine.reply("信用卡逾期会坐牢吗", lang="en")
    assert reply.lang == "en" and reply.answer.startswith("**No")


def test_english_and_synonyms(mini_engine):
    assert mini_engine.reply("collector keeps calling my mother").intent == "contact.family"
    assert mini_engine.reply("崔收一直打给我爸妈").intent == "contact.family"


def test_unrelated_message_falls_back_with_popular_topics(mini_engine):
    reply = mini_engine.reply("今天天气怎么样")
    assert reply.type == "fallback" and reply.intent is None
    assert [s["intent"] for s in reply.suggestions] == ["crime.card_debt_crime", "contact.family"]


def test_middling_confidence_clarifies_with_top_three(mini_engine):
    from bot.matcher import Ranked

    middle = (mini_engine.answer_at + mini_engine.fallback_below) / 2
    ranked = [
        Ranked("contact.family", middle),
        Ranked("crime.card_debt_crime", middle - 0.2),
        Ranked("meta.greeting", 0.1),
    ]
    reply = mini_engine.decide(ranked, "zh-Hans")
    assert reply.type == "clarify" and reply.intent is None
    assert [s["intent"] for s in reply.suggestions] == ["contact.family", "crime.card_debt_crime", "meta.greeting"]
    assert reply.answer == "你是想问哪一个？"


def test_close_runner_up_clarifies(mini_engine):
    from bot.matcher import Ranked

    reply = mini_engine.decide([Ranked("contact.family", 0.8), Ranked("crime.card_debt_crime", 0.79)], "en")
    assert reply.type == "clarify"
    assert [s["intent"] for s in reply.suggestions] == ["contact.family", "crime.card_debt_crime"]


def test_child_intent_close_to_parent_is_not_a_tie(mini_engine):
    from bot.matcher import Ranked

    reply = mini_engine.decide([Ranked("contact.family.spouse", 0.8), Ranked("contact.family", 0.79)], "en")
    assert reply.type == "answer" and reply.intent == "contact.family.spouse"


def test_a_vague_message_clarifies_however_high_its_confidence(mini_engine):
    from bot.matcher import Ranked

    ranked = [Ranked("contact.family", 0.99), Ranked("crime.card_debt_crime", 0.5)]
    reply = mini_engine.decide(ranked, "en", vague=True)
    assert reply.type == "clarify"
    assert [s["intent"] for s in reply.suggestions] == ["contact.family", "crime.card_debt_crime"]
    assert mini_engine.decide(ranked, "en").type == "answer"
    # Greetings and thanks are short by nature: still answered.
    assert mini_engine.decide([Ranked("meta.greeting", 0.99)], "en", vague=True).type == "answer"


def test_crisis_comes_before_matching(mini_engine):
    for text in ("我真的不想活了", "I want to die", "我想自殺"):
        reply = mini_engine.reply(text)
        assert (reply.type, reply.intent) == ("crisis", "safety.crisis"), text
    assert mini_engine.reply("有人堵在门口砸门").intent == "safety.danger"


def test_threat_and_excluded_words_are_not_a_crisis(mini_engine):
    threat = mini_engine.reply("催收说要我去死")
    assert threat.type != "crisis"
    assert threat.suggestions[0]["intent"] == "safety.crisis"
    assert mini_engine.reply("欠信用卡会判死刑吗").type != "crisis"


def test_distress_gets_the_answer_with_the_hotline_first_or_crisis_help(mini_engine):
    answered = mini_engine.reply("我好抑郁，信用卡逾期会坐牢吗")
    assert (answered.type, answered.intent) == ("answer", "crime.card_debt_crime")
    assert answered.suggestions[0]["intent"] == "safety.crisis"
    # Nothing to answer: crisis help, not "I did not understand", with the topics the menu would have offered.
    unplaced = mini_engine.reply("最近很抑郁")
    assert (unplaced.type, unplaced.intent) == ("crisis", "safety.crisis")
    assert unplaced.suggestions and "safety.crisis" not in [s["intent"] for s in unplaced.suggestions]
    assert mini_engine.reply("信用卡逾期会坐牢吗").suggestions[0]["intent"] != "safety.crisis"


def test_is_within():
    assert is_within("contact.family.spouse", "contact.family")
    assert is_within("contact.family", "contact.family")
    assert not is_within("contact.familyx", "contact.family")
    assert not is_within(None, "contact.family")


def test_platt_fit_recovers_a_known_curve():
    import numpy as np

    from bot.calibrate import platt

    rng = np.random.default_rng(0)
    scores = rng.uniform(0, 1, 20000)
    right = (rng.uniform(0, 1, 20000) < 1 / (1 + np.exp(-(8 * scores - 3)))).astype(float)
    a, b = platt(scores, right)
    assert abs(a - 8) < 0.5 and abs(b + 3) < 0.25


def test_calibration_maps_scores_without_changing_the_order(mini_copy):
    import dataclasses

    from bot.dialogue import Engine
    from bot.pack import load_pack

    pack = load_pack(mini_copy)
    raw = Engine(pack).rank("信用卡逾期会坐牢吗")
    calibrated = Engine(dataclasses.replace(pack, calibration=((0.0, 0.5, 1.0), (0.0, 0.9, 1.0)))).rank(
        "信用卡逾期会坐牢吗"
    )
    assert [r.intent for r in raw] == [r.intent for r in calibrated]
    for before, after in zip(raw, calibrated, strict=True):
        expected = before.score * 1.8 if before.score <= 0.5 else 0.9 + (before.score - 0.5) * 0.2
        assert after.score == before.score and abs(after.confidence - expected) < 1e-6


def test_a_calibration_table_that_falls_is_refused(mini_copy):
    import pytest

    from bot.pack import PackInvalid, load_pack

    (mini_copy / "calibration.yaml").write_text("calibration: {score: [0, 0.5, 1], confidence: [0, 0.9, 0.4]}\n")
    with pytest.raises(PackInvalid, match="calibration must rise"):
        load_pack(mini_copy)


def test_out_of_scope_question_falls_back_instead_of_guessing(mini_engine):
    # "信用卡" alone would pull this toward the card-debt topic; the pack's out_of_scope examples win instead.
    reply = mini_engine.reply("请问信用卡怎么申请呀")
    assert reply.type == "fallback" and reply.intent is None and reply.confidence == 0
    assert [s["intent"] for s in reply.suggestions] == ["crime.card_debt_crime", "contact.family"]
    assert mini_engine.reply("信用卡逾期了会不会坐牢").type == "answer"


def test_out_of_scope_is_never_offered_as_a_topic(mini_engine):
    from bot.matcher import Ranked
    from bot.pack import OUT_OF_SCOPE

    middle = (mini_engine.answer_at + mini_engine.fallback_below) / 2
    ranked = [Ranked("contact.family", middle), Ranked(OUT_OF_SCOPE, middle - 0.01), Ranked("meta.greeting", 0.1)]
    reply = mini_engine.decide(ranked, "en")
    assert reply.type == "clarify"
    assert [s["intent"] for s in reply.suggestions] == ["contact.family", "meta.greeting"]


def test_a_general_top_match_asks_which_topic_with_the_popular_ones(mini_engine):
    from bot.matcher import Ranked
    from bot.pack import GENERAL

    ranked = [Ranked(GENERAL, 0.99), Ranked("contact.family", 0.98)]
    reply = mini_engine.decide(ranked, "en")
    assert reply.type == "clarify" and reply.intent is None
    assert [s["intent"] for s in reply.suggestions] == list(mini_engine.pack.popular)
    # Below the fallback threshold it is a fallback like any other weak match, and never offered as a topic.
    low = [Ranked(GENERAL, 0.01), Ranked("contact.family", 0.005)]
    assert GENERAL not in [s["intent"] for s in mini_engine.decide(low, "en").suggestions]


def test_a_message_that_names_a_debt_but_asks_nothing_is_not_guessed(cn_engine):
    # Each of these was answered with confidence 0.85 to 0.90 before the pack had `general` phrasings
    # (我欠了钱 as contact.family, I owe money as family.liability).
    for message in ("我欠了钱", "欠钱怎么办", "I owe money", "我欠了很多钱"):
        reply = cn_engine.reply(message)
        assert reply.type == "clarify" and reply.intent is None, message
        assert [s["intent"] for s in reply.suggestions] == list(cn_engine.pack.popular), message
    # Saying what happened is a question again.
    assert cn_engine.reply("我欠了钱，催收天天打给我妈").intent == "contact.family"
    assert cn_engine.reply("I owe money and the collector calls my boss").intent == "contact.employer"
    assert cn_engine.reply("欠钱还不上会坐牢吗").intent == "crime.card_debt_crime"


def test_debt_question_we_cannot_place_offers_its_nearest_topics_first(cn_engine):
    message = "我老公欠了好多钱，现在天天有人打电话来，家里乱成一团"
    reply = cn_engine.reply(message)
    assert reply.type == "fallback"
    nearby = [r.intent for r in cn_engine.rank(message) if r.confidence >= cn_engine.nearby_at][:3]
    assert nearby, "the test message should have candidates above the nearby threshold"
    offered = [s["intent"] for s in reply.suggestions]
    popular = [p for p in cn_engine.pack.popular if p not in nearby]
    assert offered == (nearby + popular)[: len(cn_engine.pack.popular)]


def test_off_topic_and_out_of_scope_fallbacks_offer_popular_topics_only(cn_engine):
    for message in ("今天天气怎么样", "信用卡怎么申请"):
        reply = cn_engine.reply(message)
        assert reply.type == "fallback"
        assert [s["intent"] for s in reply.suggestions] == list(cn_engine.pack.popular)


def test_a_bare_keyword_asks_which_topic_instead_of_guessing(cn_engine):
    for message in ("网贷", "法院", "逾期", "debt", "collector"):
        match = cn_engine.match(message)
        assert match.vague and match.ranked[0].confidence >= cn_engine.answer_at, message  # it would have answered
        reply = cn_engine.reply(message)
        assert reply.type == "clarify" and reply.intent is None, message
        assert 3 <= len(reply.suggestions) <= len(cn_engine.pack.popular), message
    # One word that names a topic is enough, and a greeting is still a greeting.
    assert cn_engine.reply("传票").intent == "court.documents_verify"
    assert cn_engine.reply("jail").intent == "crime.card_debt_crime"
    assert cn_engine.reply("你好").intent == "meta.greeting"


def test_no_example_of_the_pack_is_too_vague_to_answer(cn_engine):
    # The vague threshold must sit below every phrasing the pack itself treats as a clear question.
    for iid, intent in cn_engine.pack.intents.items():
        if iid.startswith(("meta.", "safety.")):
            continue
        for lang in ("zh-Hans", "en"):
            for example in intent.examples[lang]:
                assert not cn_engine.match(example).vague, (iid, example)
