"""Ranking intents for a normalized message.

Three signals, each vectorized over the whole pack (no Python loop per example per query):
1. Lexical: a BM25-style match of the message's features (Chinese character unigrams and bigrams, English word
   stems and their letter trigrams) against each intent's whole vocabulary. IDF is taken over intents, so words
   that every topic shares ("催收", "debt") count little and topic words ("传票", "坐牢", "record") count much; term
   frequency saturates, so an intent with many examples does not win by sheer size. The score is normalized by what
   the message could score at best, so it reads as "how much of the message this topic covers", in [0, 1]. Words
   the pack has never seen count against every intent: a question about train tickets scores low everywhere.
2. Fuzzy: rapidfuzz's `ratio` (process.cdist) between the message and the examples of the best few intents, which
   rewards close phrasings and tolerates typos. Restricting it to candidates keeps a long message cheap.
3. Model: the probability a logistic regression trained on the examples gives each candidate (bot/classifier.py),
   which learns which features tell topics apart rather than only how rare they are.
The score is a weighted mean of the three, in [0, 1]; the classifier's part is damped when less than half of the
message is known to the pack, because it always names some topic, even for gibberish.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from bot import classifier
from bot.features import features
from bot.pack import GENERAL, OUT_OF_SCOPE, Pack

# Model constants, tuned with `python -m bot eval` on the dev set and k-fold over the pack's own examples.
K1, B = 2.0, 0.75  # BM25 saturation and length normalization
W_FUZZ = 0.3  # weight of the rapidfuzz stage against the lexical one
W_MODEL = 0.5  # weight of the classifier's probability against the lexical one
KNOWN_SCALE = 2.0  # the classifier counts fully once half of the message is known to the pack
CANDIDATES = 8  # intents whose examples the fuzzy stage compares


@dataclass(frozen=True)
class Ranked:
    """An intent with its match score, and the calibrated confidence the engine reads from that score."""

    intent: str
    score: float
    confidence: float = -1.0  # -1: not calibrated; the engine fills it in

    def __post_init__(self) -> None:
        if self.confidence < 0:
            object.__setattr__(self, "confidence", self.score)


log = logging.getLogger("bot.matcher")


class Matcher:
    """Index of one pack's examples, built once at load time."""

    def __init__(self, pack: Pack) -> None:
        # Crisis and danger are found by the safety phrase lists before ranking, never by similarity. Questions the
        # pack does not answer compete as one more intent, so "how do I apply for a credit card" can win over 征信;
        # so do messages too general to answer ("I owe money").
        phrasings = {iid: intent.phrasings for iid, intent in pack.intents.items() if not iid.startswith("safety.")}
        if pack.out_of_scope:
            phrasings[OUT_OF_SCOPE] = pack.out_of_scope
        if pack.general:
            phrasings[GENERAL] = pack.general
        self.intent_ids = sorted(phrasings)
        texts: list[str] = []
        owners: list[int] = []
        for index, iid in enumerate(self.intent_ids):
            texts += phrasings[iid]
            owners += [index] * len(phrasings[iid])
        self.examples = texts
        self.owner = np.asarray(owners, dtype=np.int32)
        # Examples are grouped by intent: per intent, its row numbers and texts, for the fuzzy stage.
        self.rows_of = [np.flatnonzero(self.owner == i) for i in range(len(self.intent_ids))]
        self.texts_of = [[texts[r] for r in rows] for rows in self.rows_of]

        vocab: dict[str, int] = {}
        bags = [features(t) for t in texts]
        # One pass collects (intent, feature, count) triples; one np.add.at sums them (per-cell += took 0.3 s).
        rows, cols, counts = [], [], []
        for bag, owner in zip(bags, owners, strict=True):
            for f, n in bag.items():
                rows.append(owner)
                cols.append(vocab.setdefault(f, len(vocab)))
                counts.append(n)
        self.vocab = vocab
        tf = np.zeros((len(self.intent_ids), len(vocab)), dtype=np.float32)
        np.add.at(tf, (np.asarray(rows), np.asarray(cols)), (1 + np.log(np.asarray(counts))).astype(np.float32))
        n_intents = len(self.intent_ids)
        df = (tf > 0).sum(axis=0)
        self.idf = np.log((n_intents + 1) / (df + 0.5)).astype(np.float32)
        # What an unseen word weighs: the median idf, so unknown words dilute the match without dominating it.
        self.unknown_idf = float(np.median(self.idf))
        length = tf.sum(axis=1, keepdims=True)
        # Saturated, length-normalized term weight in [0, 1): the share of a feature's idf an intent earns, BM25's
        # tf·(k1+1) / (tf + k1·norm) divided by its ceiling k1+1. Computed in place: the matrix is intents × features
        # (8 MB), and each temporary copy added to the peak memory.
        weight = tf + K1 * (1 - B + B * length / length.mean())
        np.divide(tf, weight, out=weight)
        self.weight = weight

        key = classifier.fingerprint(self.intent_ids, texts, owners, vocab)
        model = pack.model if pack.model is not None and pack.model.key == key else None
        self.retrained = model is None  # `validate` reports it: the shipped model.npz should always be fresh
        if model is None:
            if pack.model is not None:
                log.warning("model.npz in %s is stale; retraining (run `python -m bot calibrate --write`)", pack.path)
            model = classifier.train(bags, owners, len(self.intent_ids), vocab, key)
        self.model = model

    def lexical(self, bag: Counter[str]) -> tuple[np.ndarray, float, float]:
        """Per-intent share of the message's idf-weighted features that the intent covers, in [0, 1]; the share the
        pack knows at all; and the information: the idf mass of the known features (see `match`)."""
        cols, query, unknown = [], [], 0.0
        for f, n in bag.items():
            col = self.vocab.get(f)
            if col is None:
                unknown += (1 + math.log(n)) * self.unknown_idf
            else:
                cols.append(col)
                query.append(1 + math.log(n))
        if not cols:
            return np.zeros(len(self.intent_ids), dtype=np.float32), 0.0, 0.0
        weights = np.asarray(query, dtype=np.float32) * self.idf[cols]
        total = weights.sum() + unknown
        return self.weight[:, cols] @ weights / total, float(weights.sum() / total), float(weights.sum())

    def rank(self, text: str, limit: int = 5) -> list[Ranked]:
        """Best intents for a normalized message, highest score first; scores in [0, 1]."""
        return self.match(text, limit)[0]

    def match(self, text: str, limit: int = 5) -> tuple[list[Ranked], float]:
        """`rank`, and how much the message says about which topic it is: the summed idf of its known features.

        Scores measure coverage, so a bare keyword that every topic shares ("网贷", "debt") covers some topic fully
        and scores high; its information is near 0, while one topic word ("传票", "jail") carries about 3 to 9."""
        if not text:
            return [], 0.0
        bag = features(text)
        lexical, known, information = self.lexical(bag)
        candidates = (
            np.argpartition(-lexical, CANDIDATES)[:CANDIDATES] if len(lexical) > CANDIDATES else np.arange(len(lexical))
        )
        texts = [t for c in candidates for t in self.texts_of[c]]
        ratios = process.cdist([text], texts, scorer=fuzz.ratio, dtype=np.uint8, workers=1)[0]
        bounds = np.cumsum([0] + [len(self.texts_of[c]) for c in candidates])
        best = np.maximum.reduceat(ratios, bounds[:-1]).astype(np.float32) / 100
        # The classifier says which topic a message is, assuming it is one: damped by how much of it the pack knows.
        model = classifier.probabilities(self.model, bag, self.vocab)[candidates] * min(1.0, KNOWN_SCALE * known)
        scores = (lexical[candidates] + W_FUZZ * best + W_MODEL * model) / (1 + W_FUZZ + W_MODEL)
        order = np.argsort(-scores)[:limit]
        return [Ranked(self.intent_ids[candidates[i]], float(scores[i])) for i in order], information
