import logging
from pathlib import Path

import numpy as np
import yaml

from bot import classifier
from bot.cli import build_parser
from bot.features import features
from bot.matcher import Matcher
from bot.pack import MODEL_FILE, load_pack
from bot.settings import Settings
from tests.test_pack import problems


def validate(folder: Path) -> int:
    args = build_parser().parse_args(["validate", str(folder)])
    return args.func(args, Settings())


def test_model_puts_each_example_of_the_mini_pack_first(mini_engine):
    matcher = mini_engine.matcher
    for index, texts in enumerate(matcher.texts_of):
        for text in texts:
            p = classifier.probabilities(matcher.model, features(text), matcher.vocab)
            assert abs(p.sum() - 1) < 1e-5
            assert p.argmax() == index, text


def test_saved_model_gives_the_same_probabilities(mini_engine, tmp_path: Path):
    matcher = mini_engine.matcher
    classifier.save(matcher.model, tmp_path / "model.npz")
    loaded = classifier.load(tmp_path / "model.npz")
    assert loaded.key == matcher.model.key
    bag = features("信用卡逾期会坐牢吗")
    before = classifier.probabilities(matcher.model, bag, matcher.vocab)
    assert np.allclose(classifier.probabilities(loaded, bag, matcher.vocab), before, atol=1e-3)


def test_fresh_model_is_reused_and_stale_one_retrained(mini_copy: Path, caplog):
    classifier.save(Matcher(load_pack(mini_copy)).model, mini_copy / MODEL_FILE)
    fresh = Matcher(load_pack(mini_copy))
    assert not fresh.retrained
    assert validate(mini_copy) == 0

    topics = mini_copy / "topics.yaml"
    data = yaml.safe_load(topics.read_text(encoding="utf-8"))
    data["intents"][0]["examples"]["zh-Hans"].append("欠网贷会被判刑吗")
    topics.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    logger = logging.getLogger("bot.matcher")  # the app's JSON logging stops "bot" from propagating to caplog
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING, logger="bot.matcher"):
            stale = Matcher(load_pack(mini_copy))
    finally:
        logger.removeHandler(caplog.handler)
    assert stale.retrained and stale.model.key != fresh.model.key
    assert "stale" in caplog.text
    assert validate(mini_copy) == 1


def test_calibration_fitted_for_another_model_fails_validate(mini_copy: Path, capsys):
    classifier.save(Matcher(load_pack(mini_copy)).model, mini_copy / MODEL_FILE)
    table = {"score": [0.0, 1.0], "confidence": [0.1, 0.9], "fit": {"model": "an-older-model"}}
    (mini_copy / "calibration.yaml").write_text(yaml.safe_dump({"calibration": table}), encoding="utf-8")
    assert validate(mini_copy) == 1
    assert "calibration.yaml was fitted for another model" in capsys.readouterr().err


def test_text_the_pack_does_not_know_gets_no_topic(mini_engine):
    # The classifier always names some topic; damped by how little of the message is known, it must not lift
    # markup or gibberish out of the fallback.
    for text in ('<script>alert(1)</script>"><img src=x onerror=alert(2)>', "qwzx vbnm"):
        assert mini_engine.reply(text).type == "fallback"


def test_unreadable_model_or_calibration_is_a_pack_error(mini_copy: Path):
    classifier.save(Matcher(load_pack(mini_copy)).model, mini_copy / MODEL_FILE)
    whole = (mini_copy / MODEL_FILE).read_bytes()
    for broken in (b"not a zip file", whole[: len(whole) // 2]):  # not an archive; an archive cut short
        (mini_copy / MODEL_FILE).write_bytes(broken)
        assert any("model.npz: cannot read the trained model" in p for p in problems(mini_copy))
    (mini_copy / MODEL_FILE).unlink()
    (mini_copy / "calibration.yaml").write_text("calibration: [0.1, 0.9]\n", encoding="utf-8")
    assert any("calibration needs lists" in p for p in problems(mini_copy))
