from bot.text import Synonyms, detect_language, normalize


def test_normalize_folds_width_case_script_and_punctuation():
    assert normalize("ＸＹＫ逾期，會坐牢嗎？！") == "xyk逾期会坐牢吗"
    assert normalize("  Can  collectors\tcall my MOM?? ") == "can collectors call my mom"


def test_synonyms_replace_variants_with_canonical_words():
    synonyms = Synonyms({"信用卡": ["xyk", "信用咔"], "催收": ["cs"]})
    assert normalize("我的xyk逾期了cs天天打", synonyms) == "我的信用卡逾期了催收天天打"
    assert normalize("信用咔", synonyms) == "信用卡"


def test_latin_synonyms_only_match_whole_words():
    synonyms = Synonyms({"催收": ["cs"]})
    assert normalize("read the docs", synonyms) == "read the docs"
    assert normalize("cs call me", synonyms) == "催收 call me"


def test_detect_language():
    assert detect_language("信用卡逾期会坐牢吗") == "zh-Hans"
    assert detect_language("信用卡逾期會坐牢嗎") == "zh-Hant"
    assert detect_language("Will I go to jail?") == "en"
    assert detect_language("我的xyk逾期了") == "zh-Hans"
    assert detect_language("銀行說要告我") == "zh-Hant"


def test_a_variant_inside_a_canonical_word_leaves_it_alone():
    synonyms = Synonyms({"容差还款": ["容差"], "信用卡": ["xyk"]})
    assert normalize("容差还款", synonyms) == "容差还款"
    assert normalize("有没有容差", synonyms) == "有没有容差还款"


def test_features_pair_neighbouring_english_stems_like_chinese_bigrams():
    from bot.features import features

    bag = features("collectors keep calling my work")
    assert {"collector", "keep", "call", "work"} <= set(bag)
    assert {"collector_keep", "keep_call", "call_work"} <= set(bag)  # "my" is a stop word: call and work are neighbours
    assert "call_family" in features("calling the family")
    chinese = features("催收打给我妈")
    assert {"催收", "收打", "我妈"} <= set(chinese) and not any("_" in f for f in chinese)
    assert not any("13800138000" in f for f in features("call 13800138000 now"))  # phone numbers are dropped
