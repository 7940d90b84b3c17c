"""Ranking intents for a normalized message.

Two signals, both computed for all examples at once (no Python loop per example per query):
- weighted overlap of character n-grams (Chinese has no spaces between words) and of word stems (English),
  IDF-weighted over intents so words that every topic shares ("催收", "debt") count little and topic words
  ("传票", "坐牢", "record") count much; scored against each example and against each intent's whole vocabulary;
- rapidfuzz's partial_ratio over the normalized example strings (process.cdist), which tolerates typos and finds a
  short example inside a long, rambling message.
Each intent scores by its best example plus its vocabulary match; the result is a score in [0, 1].
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from bot.pack import Pack
from bot.text import normalize

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
        "not",
        "no",
    ]
)
_SUFFIXES = ("ing", "ed", "es", "s")

# How the signals add up; fixed here, tuned with `python -m bot eval` on the dev set.
W_EXAMPLE, W_INTENT, W_FUZZ = 0.45, 0.30, 0.25


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def features(text: str) -> Counter[str]:
    """Bag of CJK unigrams and bigrams and English word stems of a normalized text."""
    bag: Counter[str] = Counter()
    for run in _CJK_RUN.findall(text):
        bag.update(run)
        bag.update(run[i : i + 2] for i in range(len(run) - 1))
    for word in _WORD.findall(text):
        if word not in _STOP:
            bag[_stem(word)] += 1
    return bag


@dataclass(frozen=True)
class Ranked:
    intent: str
    score: float


class Matcher:
    """Index of one pack's examples, built once at load time."""

    def __init__(self, pack: Pack) -> None:
        self.synonyms = pack.synonyms
        self.intent_ids = sorted(pack.intents)
        texts: list[str] = []
        owners: list[int] = []
        # Crisis and danger are found by the safety phrase lists before ranking, never by similarity.
        self.intent_ids = [iid for iid in self.intent_ids if not iid.startswith("safety.")]
        for index, iid in enumerate(self.intent_ids):
            intent = pack.intents[iid]
            phrasings = [
                intent.title["zh-Hans"],
                intent.title["en"],
                *intent.examples["zh-Hans"],
                *intent.examples["en"],
            ]
            for text in dict.fromkeys(normalize(p, self.synonyms) for p in phrasings):
                if text:
                    texts.append(text)
                    owners.append(index)
        self.examples = texts
        self.owner = np.asarray(owners, dtype=np.int32)
        # Examples are grouped by intent, so per-intent maxima are one reduceat over these offsets.
        self.starts = np.flatnonzero(np.r_[True, self.owner[1:] != self.owner[:-1]])

        bags = [features(t) for t in texts]
        n_intents = len(self.intent_ids)
        intent_vocab: list[set[str]] = [set() for _ in range(n_intents)]
        for bag, owner in zip(bags, owners, strict=True):
            intent_vocab[owner].update(bag)
        df = Counter(f for vocab in intent_vocab for f in vocab)
        self.idf = {f: math.log((n_intents + 1) / (count + 0.5)) for f, count in df.items()}

        # Posting lists: feature -> (row indices, weights), for examples and for whole intents.
        self.example_postings = self._postings([self._weights(b) for b in bags])
        intent_bags: list[Counter[str]] = [Counter() for _ in range(n_intents)]
        for bag, owner in zip(bags, owners, strict=True):
            intent_bags[owner].update(bag)
        self.intent_postings = self._postings([self._weights(b) for b in intent_bags])

    def _weights(self, bag: Counter[str]) -> dict[str, float]:
        """Sublinear tf x idf, L2-normalized: a cosine is then a plain dot product."""
        weights = {f: (1 + math.log(n)) * self.idf.get(f, 0.0) for f, n in bag.items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        return {f: w / norm for f, w in weights.items() if w > 0}

    @staticmethod
    def _postings(vectors: list[dict[str, float]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        rows: dict[str, list[int]] = {}
        vals: dict[str, list[float]] = {}
        for row, vector in enumerate(vectors):
            for f, w in vector.items():
                rows.setdefault(f, []).append(row)
                vals.setdefault(f, []).append(w)
        return {f: (np.asarray(rows[f], dtype=np.int32), np.asarray(vals[f], dtype=np.float32)) for f in rows}

    @staticmethod
    def _dot(query: dict[str, float], postings: dict[str, tuple[np.ndarray, np.ndarray]], size: int) -> np.ndarray:
        scores = np.zeros(size, dtype=np.float32)
        for f, w in query.items():
            hit = postings.get(f)
            if hit is not None:
                scores[hit[0]] += w * hit[1]
        return scores

    def rank(self, text: str, limit: int = 5) -> list[Ranked]:
        """Best intents for a normalized message, highest score first."""
        if not text:
            return []
        query = self._weights(features(text))
        example_sim = self._dot(query, self.example_postings, len(self.examples))
        intent_sim = self._dot(query, self.intent_postings, len(self.intent_ids))
        fuzzy = process.cdist([text], self.examples, scorer=fuzz.partial_ratio, dtype=np.uint8, workers=1)[0]
        # partial_ratio of a very short string is noisy: weigh it by how much of the example the message can hold.
        best_example = np.maximum.reduceat(example_sim, self.starts)
        best_fuzzy = np.maximum.reduceat(fuzzy.astype(np.float32) / 100.0, self.starts)
        scores = W_EXAMPLE * best_example + W_INTENT * intent_sim + W_FUZZ * best_fuzzy
        order = np.argsort(-scores)[:limit]
        return [Ranked(self.intent_ids[i], float(min(1.0, scores[i]))) for i in order]
