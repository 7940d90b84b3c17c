"""Ranking intents for a normalized message.

Two stages, both vectorized over the whole pack (no Python loop per example per query):
1. Lexical: a BM25-style match of the message's features (Chinese character unigrams and bigrams, English word
   stems and their letter trigrams) against each intent's whole vocabulary. IDF is taken over intents, so words
   that every topic shares ("催收", "debt") count little and topic words ("传票", "坐牢", "record") count much; term
   frequency saturates, so an intent with many examples does not win by sheer size. The score is normalized by what
   the message could score at best, so it reads as "how much of the message this topic covers", in [0, 1]. Words
   the pack has never seen count against every intent: a question about train tickets scores low everywhere.
2. Fuzzy: rapidfuzz's `ratio` (process.cdist) between the message and the examples of the best few intents, which
   rewards close phrasings and tolerates typos. Restricting it to candidates keeps a long message cheap.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from bot.pack import Pack

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "i",
        "me",
        "my",
        "we",
        "our",
        "you",
        "your",
        "is",
        "are",
        "am",
        "was",
        "were",
        "be",
        "been",
        "do",
        "does",
        "did",
        "to",
        "of",
        "in",
        "on",
        "at",
        "for",
        "and",
        "or",
        "if",
        "it",
        "that",
        "this",
        "what",
        "how",
        "can",
        "could",
        "would",
        "should",
        "will",
        "with",
        "about",
        "from",
        "by",
        "as",
        "so",
        "but",
        "they",
        "them",
        "their",
        "he",
        "she",
        "his",
        "her",
        "there",
        "any",
        "some",
        "just",
        "get",
        "got",
        "have",
        "has",
        "had",
    ]
)
_SUFFIXES = ("ing", "ed", "es", "s")

# Model constants, tuned with `python -m bot eval` on the dev set and k-fold over the pack's own examples.
K1, B = 2.0, 0.75  # BM25 saturation and length normalization
W_FUZZ = 0.3  # weight of the rapidfuzz stage against the lexical one
CANDIDATES = 8  # intents whose examples the fuzzy stage compares


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def features(text: str) -> Counter[str]:
    """Bag of CJK unigrams and bigrams, English word stems and their letter trigrams (for typos)."""
    bag: Counter[str] = Counter()
    for run in _CJK_RUN.findall(text):
        bag.update(run)
        bag.update(run[i : i + 2] for i in range(len(run) - 1))
    for word in _WORD.findall(text):
        if word in _STOP or (word.isdigit() and len(word) > 5):  # phone, card and ID numbers say nothing of the topic
            continue
        stem = _stem(word)
        bag[stem] += 1
        padded = f"#{stem}#"
        bag.update("~" + padded[i : i + 3] for i in range(len(padded) - 2))
    return bag


@dataclass(frozen=True)
class Ranked:
    """An intent with its match score, and the calibrated confidence the engine reads from that score."""

    intent: str
    score: float
    confidence: float = -1.0  # -1: not calibrated; the engine fills it in

    def __post_init__(self) -> None:
        if self.confidence < 0:
            object.__setattr__(self, "confidence", self.score)


class Matcher:
    """Index of one pack's examples, built once at load time."""

    def __init__(self, pack: Pack) -> None:
        # Crisis and danger are found by the safety phrase lists before ranking, never by similarity.
        self.intent_ids = sorted(i for i in pack.intents if not i.startswith("safety."))
        texts: list[str] = []
        owners: list[int] = []
        for index, iid in enumerate(self.intent_ids):
            texts += pack.intents[iid].phrasings
            owners += [index] * len(pack.intents[iid].phrasings)
        self.examples = texts
        self.owner = np.asarray(owners, dtype=np.int32)
        # Examples are grouped by intent: per intent, its row numbers and texts, for the fuzzy stage.
        self.rows_of = [np.flatnonzero(self.owner == i) for i in range(len(self.intent_ids))]
        self.texts_of = [[texts[r] for r in rows] for rows in self.rows_of]

        vocab: dict[str, int] = {}
        bags = [features(t) for t in texts]
        for bag in bags:
            for f in bag:
                vocab.setdefault(f, len(vocab))
        self.vocab = vocab
        tf = np.zeros((len(self.intent_ids), len(vocab)), dtype=np.float32)
        for bag, owner in zip(bags, owners, strict=True):
            for f, n in bag.items():
                tf[owner, vocab[f]] += 1 + math.log(n)
        n_intents = len(self.intent_ids)
        df = (tf > 0).sum(axis=0)
        self.idf = np.log((n_intents + 1) / (df + 0.5)).astype(np.float32)
        # What an unseen word weighs: the median idf, so unknown words dilute the match without dominating it.
        self.unknown_idf = float(np.median(self.idf))
        length = tf.sum(axis=1, keepdims=True)
        # Saturated, length-normalized term weight in [0, 1): the share of a feature's idf an intent earns.
        self.weight = (tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / length.mean())) / (K1 + 1)).astype(np.float32)

    def lexical(self, text: str) -> np.ndarray:
        """Per-intent share of the message's idf-weighted features that the intent covers, in [0, 1]."""
        bag = features(text)
        cols, query, unknown = [], [], 0.0
        for f, n in bag.items():
            col = self.vocab.get(f)
            if col is None:
                unknown += (1 + math.log(n)) * self.unknown_idf
            else:
                cols.append(col)
                query.append(1 + math.log(n))
        if not cols:
            return np.zeros(len(self.intent_ids), dtype=np.float32)
        weights = np.asarray(query, dtype=np.float32) * self.idf[cols]
        return self.weight[:, cols] @ weights / (weights.sum() + unknown)

    def rank(self, text: str, limit: int = 5) -> list[Ranked]:
        """Best intents for a normalized message, highest score first; scores in [0, 1]."""
        if not text:
            return []
        lexical = self.lexical(text)
        candidates = (
            np.argpartition(-lexical, CANDIDATES)[:CANDIDATES] if len(lexical) > CANDIDATES else np.arange(len(lexical))
        )
        texts = [t for c in candidates for t in self.texts_of[c]]
        ratios = process.cdist([text], texts, scorer=fuzz.ratio, dtype=np.uint8, workers=1)[0]
        bounds = np.cumsum([0] + [len(self.texts_of[c]) for c in candidates])
        best = np.maximum.reduceat(ratios, bounds[:-1]).astype(np.float32) / 100
        scores = (lexical[candidates] + W_FUZZ * best) / (1 + W_FUZZ)
        order = np.argsort(-scores)[:limit]
        return [Ranked(self.intent_ids[candidates[i]], float(scores[i])) for i in order]
