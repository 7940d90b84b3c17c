"""What the matchers see of a normalized message: Chinese character unigrams and bigrams, English word stems, their
letter trigrams and pairs of neighbouring stems.

Characters rather than words because Chinese has no spaces and a word segmenter would add a dictionary and its
mistakes; bigrams carry most words ("催收", "传票"), unigrams catch the rest. English letter trigrams tolerate typos
("harrasment"). Pairs of neighbouring English stems do for English what character bigrams do for Chinese: "call work"
and "call family", "credit report" and "credit card" share a word but not a topic (on the 820 real questions read so
far, English questions ranked right first 0.736 -> 0.780). Long digit runs (phones, cards, IDs) are dropped: they
say nothing about the topic.
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import pairwise

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


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def features(text: str) -> Counter[str]:
    """Bag of CJK unigrams and bigrams, English word stems, their letter trigrams (for typos) and stem pairs."""
    bag: Counter[str] = Counter()
    for run in _CJK_RUN.findall(text):
        bag.update(run)
        bag.update(run[i : i + 2] for i in range(len(run) - 1))
    stems: list[str] = []
    for word in _WORD.findall(text):
        if word in _STOP or (word.isdigit() and len(word) > 5):  # phone, card and ID numbers say nothing of the topic
            continue
        stem = _stem(word)
        stems.append(stem)
        bag[stem] += 1
        padded = f"#{stem}#"
        bag.update("~" + padded[i : i + 3] for i in range(len(padded) - 2))
    bag.update(f"{a}_{b}" for a, b in pairwise(stems))
    return bag
