from pathlib import Path

import pytest
import yaml

from bot.pack import PackInvalid, load_pack


def edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def problems(folder: Path) -> list[str]:
    with pytest.raises(PackInvalid) as exc:
        load_pack(folder)
    return [str(e) for e in exc.value.errors]


def test_mini_pack_loads_and_derives_traditional(mini_copy):
    pack = load_pack(mini_copy)
    intent = pack.intents["crime.card_debt_crime"]
    assert intent.title["zh-Hant"] == "信用卡欠款會坐牢嗎"
    assert intent.citations[0].article == {"zh-Hans": "第一百九十六条", "en": "Art. 196", "zh-Hant": "第一百九十六條"}


def test_yaml_syntax_error_names_file_and_line(mini_copy):
    (mini_copy / "broken.yaml").write_text("intents:\n  - id: a.b\n    title: {zh-Hans: x\n", encoding="utf-8")
    found = problems(mini_copy)
    assert any(p.startswith("broken.yaml:") and "YAML syntax error" in p for p in found)
    assert any(p.split(":")[1].isdigit() for p in found if p.startswith("broken.yaml"))


def test_duplicate_ids(mini_copy):
    edit(mini_copy / "topics.yaml", lambda d: d["intents"].append(dict(d["intents"][0])))
    assert any("crime.card_debt_crime: duplicate id" in p for p in problems(mini_copy))


def test_unknown_related_and_unknown_source(mini_copy):
    def change(d):
        d["intents"][0]["related"] = ["no.such"]
        d["intents"][0]["citations"] = [{"source": "made_up_law"}]

    edit(mini_copy / "topics.yaml", change)
    found = problems(mini_copy)
    assert any("crime.card_debt_crime: related id 'no.such' does not exist" in p for p in found)
    assert any("citation source 'made_up_law' is not in pack.yaml sources" in p for p in found)


def test_missing_language_and_empty_answer(mini_copy):
    def change(d):
        del d["intents"][0]["examples"]["en"]
        d["intents"][1]["answer"]["zh-Hans"] = "   "

    edit(mini_copy / "topics.yaml", change)
    found = problems(mini_copy)
    assert any("crime.card_debt_crime: examples is missing or empty for en" in p for p in found)
    assert any("contact.family: answer is missing or empty for zh-Hans" in p for p in found)


def test_hand_written_traditional_is_refused(mini_copy):
    edit(mini_copy / "topics.yaml", lambda d: d["intents"][0]["answer"].update({"zh-Hant": "手寫"}))
    assert any("unknown language 'zh-Hant'" in p for p in problems(mini_copy))


def test_same_normalized_example_under_two_intents(mini_copy):
    # Differs only by punctuation, width and a synonym: the same example after normalization.
    edit(mini_copy / "topics.yaml", lambda d: d["intents"][1]["examples"]["zh-Hans"].append("ＸＹＫ逾期會坐牢嗎？"))
    assert any(
        "contact.family: example" in p and "also an example of crime.card_debt_crime" in p for p in problems(mini_copy)
    )


def test_intent_outside_meta_must_cite(mini_copy):
    edit(mini_copy / "topics.yaml", lambda d: d["intents"][0].pop("citations"))
    assert any("crime.card_debt_crime: cites no source" in p for p in problems(mini_copy))


def test_hant_overrides_fix_opencc_word_choice(mini_copy):
    edit(mini_copy / "topics.yaml", lambda d: d["intents"][0]["answer"].update({"zh-Hans": "发卡银行和发卡行"}))
    pack = load_pack(mini_copy)
    assert pack.intents["crime.card_debt_crime"].answer["zh-Hant"].startswith("發卡銀行")


def test_out_of_scope_examples_are_checked(mini_copy):
    edit(mini_copy / "pack.yaml", lambda d: d["out_of_scope"]["zh-Hans"].append("XYK逾期会坐牢吗"))
    assert any(
        "out_of_scope example 'XYK逾期会坐牢吗' is also an example of crime.card_debt_crime" in p
        for p in problems(mini_copy)
    )
    edit(mini_copy / "pack.yaml", lambda d: d.update(out_of_scope=["not", "a", "mapping"]))
    assert any("out_of_scope must map languages" in p for p in problems(mini_copy))


def test_general_phrasings_are_checked_like_out_of_scope(mini_copy):
    edit(mini_copy / "pack.yaml", lambda d: d.update(general={"zh-Hans": ["我欠了钱"], "en": ["I owe money"]}))
    assert load_pack(mini_copy).general == ("我欠了钱", "i owe money")
    edit(mini_copy / "pack.yaml", lambda d: d["general"]["zh-Hans"].append("XYK逾期会坐牢吗"))
    clash = "general example 'XYK逾期会坐牢吗' is also an example of crime.card_debt_crime"
    assert any(clash in p for p in problems(mini_copy))
    edit(mini_copy / "pack.yaml", lambda d: d.update(general=["not", "a", "mapping"]))
    assert any("general must map languages" in p for p in problems(mini_copy))


def test_out_of_scope_examples_load_in_matching_form(mini_copy):
    assert "信用卡怎么申请" in load_pack(mini_copy).out_of_scope


def test_a_negative_vague_threshold_is_refused(mini_copy):
    edit(mini_copy / "pack.yaml", lambda d: d["thresholds"].update({"vague": -1}))
    assert any("thresholds.vague" in p for p in problems(mini_copy))
