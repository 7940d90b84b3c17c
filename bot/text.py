"""Text normalization and language detection.

The same `normalize` runs over pack examples at load time and over every user message, so both sides of a
comparison look alike: full-width folded to half-width, lower case, Traditional folded to Simplified, punctuation
gone, and the pack's synonyms (slang, pinyin abbreviations, typos) replaced by their canonical word.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache

import opencc

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RE = re.compile(f"[{_CJK}]")
_LATIN_RE = re.compile(r"[a-z]")
# Anything that is not a letter, digit or CJK character separates words.
_PUNCT_RE = re.compile(rf"[^\w{_CJK}]+|_+")
# A space between two CJK characters carries no meaning in Chinese.
_CJK_SPACE_RE = re.compile(rf"(?<=[{_CJK}]) (?=[{_CJK}])")


@lru_cache(maxsize=8)
def converter(config: str) -> opencc.OpenCC:
    """One OpenCC converter per configuration (t2s, s2t, s2tw, s2hk), built once."""
    return opencc.OpenCC(config)


def fold(text: str) -> str:
    """NFKC, case folding and Traditional -> Simplified, without touching punctuation."""
    return converter("t2s").convert(unicodedata.normalize("NFKC", text).casefold())


def strip_punctuation(text: str) -> str:
    """Replace punctuation with single spaces, then drop the spaces that sit between CJK characters."""
    text = _PUNCT_RE.sub(" ", text).strip()
    return _CJK_SPACE_RE.sub("", text)


class Synonyms:
    """Replaces user variants with canonical words in one regex pass, longest variant first.

    Latin variants (`xyk`, `cs`) only match as whole words, so `cs` does not fire inside `docs`.
    """

    def __init__(self, table: Mapping[str, list[str]]) -> None:
        # Canonical words map to themselves, so a variant inside a canonical word ("容差" in "容差还款") never
        # rewrites it: the longest match wins.
        self.canonical: dict[str, str] = {strip_punctuation(fold(str(w))): str(w) for w in table if table[w]}
        for word, variants in table.items():
            for variant in variants:
                key = strip_punctuation(fold(str(variant)))
                if key and key not in self.canonical:
                    self.canonical[key] = str(word)
        alternatives = sorted(self.canonical, key=len, reverse=True)
        parts = [
            rf"(?<![a-z0-9]){re.escape(v)}(?![a-z0-9])" if _LATIN_RE.search(v) else re.escape(v) for v in alternatives
        ]
        self._pattern = re.compile("|".join(parts)) if parts else None

    def apply(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda m: self.canonical[m.group(0)], text)


def normalize(text: str, synonyms: Synonyms | None = None) -> str:
    """The matching form of a text: folded, punctuation-free, synonyms applied."""
    text = strip_punctuation(fold(text))
    return text if synonyms is None else with_synonyms(text, synonyms)


def with_synonyms(normalized: str, synonyms: Synonyms) -> str:
    """Synonyms applied to an already normalized text, so a message is folded (OpenCC) only once per request."""
    return strip_punctuation(synonyms.apply(normalized))


def detect_language(text: str) -> str:
    """`zh-Hant`, `zh-Hans` or `en`, from the script the user wrote in.

    Chinese wins when the text holds any CJK character; Traditional when more characters change under t2s than
    under s2t (characters shared by both scripts change under neither).
    """
    text = unicodedata.normalize("NFKC", text)
    if not _CJK_RE.search(text):
        return "en"
    cjk = "".join(_CJK_RE.findall(text))
    to_simplified = sum(a != b for a, b in zip(cjk, converter("t2s").convert(cjk), strict=False))
    to_traditional = sum(a != b for a, b in zip(cjk, converter("s2t").convert(cjk), strict=False))
    return "zh-Hant" if to_simplified > to_traditional else "zh-Hans"


def has_cjk(text: str) -> bool:
    return _CJK_RE.search(text) is not None
