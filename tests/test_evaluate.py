import json
from pathlib import Path

import yaml

from bot.evaluate import evaluate, load_items, sweep


def write_set(folder: Path, items: list[dict]) -> str:
    path = folder / "set.yaml"
    path.write_text(yaml.safe_dump(items, allow_unicode=True), encoding="utf-8")
    return str(path)


def test_figures_follow_the_issue_rules(mini_engine, tmp_path: Path):
    items = load_items(
        write_set(
            tmp_path,
            [
                {"q": "信用卡逾期会坐牢吗", "intent": "crime", "lang": "zh-Hans"},  # a parent label: child counts
                {"q": "催收一直打给我爸妈", "intent": "crime.card_debt_crime", "alt_intent": "contact.family"},
                {"q": "催收一直打给我爸妈", "intent": "crime.card_debt_crime", "lang": "zh-Hans"},  # wrong topic
                {"q": "请问信用卡怎么申请呀", "intent": "none", "lang": "zh-Hans"},  # out of scope, falls back
            ],
        )
    )
    report = evaluate(mini_engine, items).as_dict()
    assert (report["in_scope"], report["out_of_scope"]) == (3, 1)
    assert report["top1_accuracy"] == round(2 / 3, 4)
    assert report["top1_interval"][0] < 2 / 3 < report["top1_interval"][1]
    assert report["out_of_scope_rejection"] == 1.0
    assert report["wrong_answer_rate"] == 0.25
    [miss] = report["misses"]
    assert miss["expected"] == "crime.card_debt_crime" and miss["got"] == "answer"
    assert miss["intent"] == miss["top"] == "contact.family"


def test_sweep_restores_the_engine_thresholds(mini_engine, tmp_path: Path):
    items = load_items(write_set(tmp_path, [{"q": "信用卡逾期会坐牢吗", "intent": "crime.card_debt_crime"}]))
    before = (mini_engine.answer_at, mini_engine.fallback_below, mini_engine.margin)
    rows = sweep(mini_engine, items, {"answer": [0.3, 0.99], "fallback": [0.1], "margin": [0.0]})
    assert [r["top1_accuracy"] for r in rows] == [1.0, 0.0]
    assert (mini_engine.answer_at, mini_engine.fallback_below, mini_engine.margin) == before


def test_each_message_is_ranked_once_and_the_engine_left_as_it_was(mini_engine, tmp_path: Path, monkeypatch):
    items = load_items(
        write_set(
            tmp_path,
            [
                {"q": "信用卡逾期会坐牢吗", "intent": "crime.card_debt_crime"},
                {"q": "请问信用卡怎么申请呀", "intent": "none"},
            ],
        )
    )
    calls = []
    match = mini_engine.matcher.match
    monkeypatch.setattr(mini_engine.matcher, "match", lambda text, *a: calls.append(text) or match(text, *a))
    evaluate(mini_engine, items)
    assert len(calls) == len(items)  # the reply and the ranking figures share one match per message
    sweep(mini_engine, items, {"answer": [0.3, 0.99], "fallback": [0.1], "margin": [0.0]})
    assert len(calls) == 2 * len(items)  # a sweep ranks once more, for all its settings
    assert "match" not in vars(mini_engine)


def test_eval_measures_several_sets_as_one(tmp_path: Path, capsys):
    from bot.cli import build_parser
    from bot.settings import Settings
    from tests.conftest import MINI

    first = tmp_path / "a"
    second = tmp_path / "b"
    first.mkdir()
    second.mkdir()
    paths = [
        write_set(first, [{"q": "信用卡逾期会坐牢吗", "intent": "crime.card_debt_crime"}]),
        write_set(second, [{"q": "请问信用卡怎么申请呀", "intent": "none"}]),
    ]
    args = build_parser().parse_args(["eval", "--json", "--pack-dir", str(MINI), *paths])
    assert args.func(args, Settings()) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["items"], report["in_scope"], report["out_of_scope"]) == (2, 1, 1)


def test_ranked_first_counts_the_right_topic_even_when_not_answered(mini_engine, tmp_path: Path, monkeypatch):
    items = load_items(
        write_set(
            tmp_path,
            [
                {"q": "信用卡逾期会坐牢吗", "intent": "crime.card_debt_crime", "lang": "zh-Hans"},
                {"q": "催收一直打给我爸妈", "intent": "crime.card_debt_crime", "lang": "zh-Hans"},
                {"q": "请问信用卡怎么申请呀", "intent": "none", "lang": "zh-Hans"},  # out of scope: not counted
            ],
        )
    )
    monkeypatch.setattr(mini_engine, "answer_at", 1.01)  # nothing is confident enough: every reply asks
    report = evaluate(mini_engine, items).as_dict()
    assert report["top1_accuracy"] == 0.0
    assert report["ranked_first"] == 0.5
    assert report["per_language"]["zh-Hans"]["ranked_first"] == 0.5


def test_an_out_of_scope_item_answered_on_its_alt_intent_is_right(mini_engine, tmp_path: Path):
    items = load_items(
        write_set(
            tmp_path,
            [
                {"q": "催收一直打给我爸妈", "intent": "none", "alt_intent": "contact.family"},
                {"q": "催收一直打给我爸妈", "intent": "none"},  # no alternative: an answer is a wrong answer
            ],
        )
    )
    report = evaluate(mini_engine, items).as_dict()
    assert report["out_of_scope_rejection"] == 0.5
    assert report["wrong_answer_rate"] == 0.5


def test_wilson_interval_brackets_the_rate_and_narrows_with_more_items():
    from bot.evaluate import wilson

    assert wilson(0, 0) == (0.0, 0.0)
    low, high = wilson(2, 94)
    assert 0.005 < low < 2 / 94 < high < 0.08  # "2.1% wrong" on dev could be 7%
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0
    wide, narrow = wilson(3, 100), wilson(30, 1000)
    assert narrow[1] - narrow[0] < wide[1] - wide[0]
