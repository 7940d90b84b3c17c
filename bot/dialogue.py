"""Deciding the reply: message -> normalize -> safety -> rank -> decide -> reply.

Pure: no I/O, no clock, no randomness except the reply id; the API and the CLI both call `Engine.reply`.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field

import numpy as np

from bot.matcher import Matcher, Ranked
from bot.pack import GENERAL, OUT_OF_SCOPE, PSEUDO, SERVED, Intent, Pack
from bot.safety import Detector, Phrases
from bot.text import detect_language, normalize, with_synonyms

CRISIS, DANGER = "safety.crisis", "safety.danger"


@dataclass
class Reply:
    type: str  # answer | clarify | fallback | crisis
    intent: str | None
    confidence: float
    lang: str
    title: str | None
    answer: str
    citations: list[dict[str, str | None]] = field(default_factory=list)
    suggestions: list[dict[str, str]] = field(default_factory=list)
    disclaimer: str = ""
    reply_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Match:
    """What the engine reads from a message before deciding: the ranking; whether it uses the pack's domain words (a
    debt question, even if we cannot place it); and whether it says too little to choose one topic ("网贷", "debt")."""

    ranked: list[Ranked]
    on_topic: bool = False
    vague: bool = False


def is_within(intent: str | None, label: str) -> bool:
    """True when `intent` is `label` or one of its children (contact.family.spouse is within contact.family)."""
    return intent is not None and (intent == label or intent.startswith(label + "."))


class Engine:
    """One pack, ready to answer. Built once per pack load; safe to share between requests."""

    def __init__(self, pack: Pack) -> None:
        self.pack = pack
        self.matcher = Matcher(pack)
        self.detector = Detector(pack.phrases)
        self.answer_at = pack.thresholds["answer"]
        self.fallback_below = pack.thresholds["fallback"]
        self.margin = pack.thresholds["margin"]
        self.off_domain = pack.thresholds["off_domain"]
        self.nearby_at = pack.thresholds["nearby"]
        self.vague_below = pack.thresholds["vague"]
        self.domain = Phrases(pack.domain) if pack.domain else None

    def suggestion(self, intent_id: str, lang: str) -> dict[str, str]:
        return {"intent": intent_id, "title": self.pack.intents[intent_id].title[lang]}

    def intent_reply(self, intent: Intent, lang: str, kind: str = "answer", confidence: float = 1.0) -> Reply:
        return Reply(
            type=kind,
            intent=intent.id,
            confidence=round(confidence, 4),
            lang=lang,
            title=intent.title[lang],
            answer=intent.answer[lang],
            citations=[
                {"title": c.title[lang], "article": c.article.get(lang), "url": c.url} for c in intent.citations
            ],
            suggestions=[self.suggestion(r, lang) for r in intent.related],
            disclaimer=self.pack.disclaimer[lang],
        )

    def rank(self, message: str, normalized: str | None = None) -> list[Ranked]:
        """Ranked intents with calibrated confidences; lowered for a message with none of the pack's domain words.

        `normalized` is `normalize(message)` when the caller already has it (reply does, for the safety check).
        """
        return self.match(message, normalized).ranked

    def match(self, message: str, normalized: str | None = None) -> Match:
        """`rank`, with what else the decision reads from the message, in one pass: synonyms, features and the
        domain search are a tenth of a reply's time on a long message."""
        text = with_synonyms(normalize(message) if normalized is None else normalized, self.pack.synonyms)
        on_topic = self.domain is not None and self.domain.search(text)
        ranked, information = self.matcher.match(text)
        if self.domain is not None and not on_topic:
            damped = [
                r if r.intent.startswith("meta.") else Ranked(r.intent, r.score * self.off_domain) for r in ranked
            ]
            ranked = sorted(damped, key=lambda r: -r.score)
        if self.pack.calibration is not None:
            scores, confidences = self.pack.calibration
            ranked = [Ranked(r.intent, r.score, float(np.interp(r.score, scores, confidences))) for r in ranked]
        return Match(ranked, on_topic, vague=information < self.vague_below)

    def reply(self, message: str, lang: str = "auto") -> Reply:
        lang = detect_language(message) if lang == "auto" else lang
        if lang not in SERVED:
            raise ValueError(f"unknown language {lang!r}")
        plain = normalize(message)
        signal = self.detector.check(plain)
        if signal.kind is not None:
            intent_id = CRISIS if signal.kind == "crisis" else DANGER
            if intent_id in self.pack.intents:
                return self.intent_reply(self.pack.intents[intent_id], lang, kind="crisis")

        match = self.match(message, plain)
        reply = self.decide(match.ranked, lang, on_topic=match.on_topic, vague=match.vague)
        if signal.distress and reply.type != "answer" and CRISIS in self.pack.intents:
            # "I am so depressed by this debt, what do I do": support first, not "I did not understand" or a menu;
            # the topics the menu would have offered stay, first, so their question is one tap away.
            crisis = self.intent_reply(self.pack.intents[CRISIS], lang, kind="crisis")
            offered = [s["intent"] for s in reply.suggestions[:3]]
            offered += [r for r in self.pack.intents[CRISIS].related if r not in offered]
            crisis.suggestions = [self.suggestion(i, lang) for i in offered[:5]]
            return crisis
        if (signal.threat or signal.distress) and CRISIS in self.pack.intents:
            reply.suggestions = [self.suggestion(CRISIS, lang)] + [
                s for s in reply.suggestions if s["intent"] != CRISIS
            ]
        return reply

    def decide(self, ranked: list[Ranked], lang: str, on_topic: bool = False, vague: bool = False) -> Reply:
        top = ranked[0] if ranked else None
        if top is None or top.confidence < self.fallback_below or top.intent == OUT_OF_SCOPE:
            placed = top is not None and top.intent != OUT_OF_SCOPE  # the top match is not a question we skip
            # A debt question we could not place still gets its nearest topics first, then popular ones (on the dev
            # set the right topic was among them for 17 of 18 such fallbacks); anything else gets the popular topics.
            nearby = [r.intent for r in ranked if r.intent not in PSEUDO and r.confidence >= self.nearby_at][:3]
            nearby = nearby if placed and on_topic else []
            offered = nearby + [p for p in self.pack.popular if p not in nearby]
            return Reply(
                type="fallback",
                intent=None,
                confidence=round(top.confidence if placed and top else 0.0, 4),
                lang=lang,
                title=None,
                answer=self.pack.fallback[lang],
                suggestions=[self.suggestion(p, lang) for p in offered[: max(len(self.pack.popular), len(nearby))]],
                disclaimer=self.pack.disclaimer[lang],
            )
        if top.intent == GENERAL:
            # "I owe money" names no topic: what people ask most is a better menu than the nearest guesses.
            return self.clarify(top.confidence, list(self.pack.popular), lang)
        # A parent and its child are one topic (either answer counts), so they never tie.
        runner_up = next(
            (r for r in ranked[1:] if not is_within(r.intent, top.intent) and not is_within(top.intent, r.intent)), None
        )
        # Thresholds read the calibrated confidence; the margin reads match scores, which keep their spacing where
        # the calibration curve flattens.
        margin = top.score - (runner_up.score if runner_up else 0.0)
        # A bare keyword covers some topic fully, so it scores high; asking which topic beats guessing one. Greetings
        # and thanks are short by nature and still answered.
        guessing = vague and not top.intent.startswith("meta.")
        if top.confidence >= self.answer_at and margin >= self.margin and not guessing:
            return self.intent_reply(self.pack.intents[top.intent], lang, confidence=top.confidence)
        return self.clarify(top.confidence, [r.intent for r in ranked if r.intent not in PSEUDO][:3], lang)

    def clarify(self, confidence: float, candidates: list[str], lang: str) -> Reply:
        return Reply(
            type="clarify",
            intent=None,
            confidence=round(confidence, 4),
            lang=lang,
            title=None,
            answer=self.pack.clarify[lang],
            suggestions=[self.suggestion(c, lang) for c in candidates],
            disclaimer=self.pack.disclaimer[lang],
        )
