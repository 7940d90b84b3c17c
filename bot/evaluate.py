"""Measuring the engine on a labelled question set (the format of shared/eval/dev.yaml).

An item is right when the reply is an `answer` (or `crisis`) whose intent is the label, a child of it, or the
item's `alt_intent`; an item labelled `none` is right when the reply is a `fallback`, or an answer on its
`alt_intent` if it has one. A confident answer on the wrong topic is the costly error, so it is counted on its own
("wrong answers"). "Ranked first" counts the items whose first-named topic is right whatever the decision: the share
a better decision rule could answer, and the topic a "did you mean" offers first.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import yaml

from bot.dialogue import Engine, Match, is_within
from bot.pack import PSEUDO


@dataclass
class Item:
    q: str
    intent: str
    lang: str
    alt_intent: str | None = None


@dataclass
class Report:
    total: int = 0
    in_scope: int = 0
    top1: int = 0
    top3: int = 0
    ranked_first: int = 0
    out_of_scope: int = 0
    rejected: int = 0
    wrong_answers: int = 0
    clarified: int = 0
    per_lang: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    ranked_per_lang: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    per_intent: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    misses: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        def ratio(a: int, b: int) -> float:
            return round(a / b, 4) if b else 0.0

        return {
            "items": self.total,
            "top1_accuracy": ratio(self.top1, self.in_scope),
            "top1_interval": wilson(self.top1, self.in_scope),
            "top3_accuracy": ratio(self.top3, self.in_scope),
            "ranked_first": ratio(self.ranked_first, self.in_scope),
            "out_of_scope_rejection": ratio(self.rejected, self.out_of_scope),
            "wrong_answer_rate": ratio(self.wrong_answers, self.total),
            "wrong_answer_interval": wilson(self.wrong_answers, self.total),
            "clarify_rate": ratio(self.clarified, self.total),
            "in_scope": self.in_scope,
            "out_of_scope": self.out_of_scope,
            "per_language": {
                k: {"accuracy": ratio(*v), "ranked_first": ratio(*self.ranked_per_lang[k]), "items": v[1]}
                for k, v in sorted(self.per_lang.items())
            },
            "per_intent": {k: {"accuracy": ratio(*v), "items": v[1]} for k, v in sorted(self.per_intent.items())},
            "misses": self.misses,
        }


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% interval of a rate measured on n items (Wilson score): on 94 dev questions one item is a point of top-1,
    and "wrong answers 2.1%" is anywhere from about 0.6% to 7.4%; the interval says how far a target may really be."""
    if n == 0:
        return 0.0, 0.0
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)


def load_items(path: str) -> list[Item]:
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or []
    return [
        Item(q=str(d["q"]), intent=str(d["intent"]), lang=str(d.get("lang", "auto")), alt_intent=d.get("alt_intent"))
        for d in data
    ]


@contextmanager
def ranked_once(engine: Engine) -> Iterator[None]:
    """Each message is ranked once while measuring: the reply and the ranking figures read the same match, and a
    threshold sweep varies only the decisions. Nested uses share the outer cache."""
    if getattr(engine.match, "ranked_once", False):  # an outer ranked_once already caches
        yield
        return
    match, cache = engine.match, {}

    def cached(message: str, normalized: str | None = None) -> Match:
        if message not in cache:
            cache[message] = match(message, normalized)
        return cache[message]

    cached.ranked_once = True  # type: ignore[attr-defined]
    engine.match = cached
    try:
        yield
    finally:
        del engine.match


def evaluate(engine: Engine, items: list[Item]) -> Report:
    with ranked_once(engine):
        return _evaluate(engine, items)


def _evaluate(engine: Engine, items: list[Item]) -> Report:
    report = Report()
    for item in items:
        reply = engine.reply(item.q)
        ranked = engine.rank(item.q)
        labels = [item.intent] + ([item.alt_intent] if item.alt_intent else [])
        report.total += 1
        if item.intent == "none":
            # An out-of-scope item may name an `alt_intent` (a card-limit complaint): answering that is right too.
            report.out_of_scope += 1
            answered = reply.type in ("answer", "crisis")
            right = reply.type == "fallback" or (
                answered and item.alt_intent is not None and is_within(reply.intent, item.alt_intent)
            )
            report.rejected += right
            report.wrong_answers += answered and not right
        else:
            report.in_scope += 1
            answered = reply.type in ("answer", "crisis")
            right = answered and any(is_within(reply.intent, label) for label in labels)
            report.top1 += right
            top3 = [r.intent for r in ranked if r.intent not in PSEUDO][:3]
            first = bool(top3) and any(is_within(top3[0], label) for label in labels)
            report.ranked_first += first
            report.ranked_per_lang[item.lang][0] += first
            report.ranked_per_lang[item.lang][1] += 1
            report.top3 += right or any(is_within(r, label) for r in top3 for label in labels)
            report.wrong_answers += answered and not right
        report.clarified += reply.type == "clarify"
        for bucket in (report.per_lang[item.lang], report.per_intent[item.intent]):
            bucket[0] += right
            bucket[1] += 1
        if not right:
            report.misses.append(
                {
                    "q": item.q,
                    "expected": item.intent,
                    "alt": item.alt_intent,
                    "got": reply.type,
                    "intent": reply.intent,
                    "top": ranked[0].intent if ranked else None,  # what ranked first, whatever the decision
                    "confidence": reply.confidence,
                }
            )
    return report


def sweep(engine: Engine, items: list[Item], grid: dict[str, list[float]]) -> list[dict]:
    """The main figures for every combination of decision thresholds, to choose the pack's thresholds with."""
    rows = []
    saved = (engine.answer_at, engine.fallback_below, engine.margin)
    try:
        with ranked_once(engine):
            for answer in grid["answer"]:
                for fallback in (f for f in grid["fallback"] if f <= answer):
                    for margin in grid["margin"]:
                        engine.answer_at, engine.fallback_below, engine.margin = answer, fallback, margin
                        figures = evaluate(engine, items).as_dict()
                        rows.append(
                            {
                                "answer": answer,
                                "fallback": fallback,
                                "margin": margin,
                                **{
                                    k: figures[k]
                                    for k in (
                                        "top1_accuracy",
                                        "out_of_scope_rejection",
                                        "wrong_answer_rate",
                                        "clarify_rate",
                                    )
                                },
                            }
                        )
    finally:
        engine.answer_at, engine.fallback_below, engine.margin = saved
    return rows
