"""Crisis and danger detection, run before any intent matching.

Phrase lists are pack data (`phrases:` in a topic file), matched as substrings of the normalized message.
`threat` phrases (a collector telling the borrower to die) and `exclude` phrases (死刑, 死亡后…) are masked first,
so they cannot trigger a crisis reply; a threat still earns the crisis hotlines as a suggestion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.text import has_cjk


@dataclass(frozen=True)
class Signal:
    kind: str | None  # "crisis", "danger" or None
    threat: bool  # the message reports a collector telling the user to die


def compile_words(items: list[str] | tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex finding any of the (normalized) phrases: CJK as substrings, Latin only as whole words."""
    parts = [
        re.escape(p) if has_cjk(p) else rf"(?<![a-z0-9]){re.escape(p)}(?![a-z0-9])"
        for p in sorted(set(items), key=len, reverse=True)
    ]
    return re.compile("|".join(parts)) if parts else None


class Detector:
    def __init__(self, phrases: dict[str, list[str]]) -> None:
        self._patterns = {
            kind: compile_words(phrases.get(kind, [])) for kind in ("crisis", "danger", "threat", "exclude")
        }

    def _find(self, kind: str, text: str) -> bool:
        pattern = self._patterns[kind]
        return pattern is not None and pattern.search(text) is not None

    def _mask(self, kind: str, text: str) -> str:
        pattern = self._patterns[kind]
        return text if pattern is None else pattern.sub(" ", text)

    def check(self, normalized: str) -> Signal:
        threat = self._find("threat", normalized)
        rest = self._mask("exclude", self._mask("threat", normalized))
        if self._find("crisis", rest):
            return Signal("crisis", threat)
        if self._find("danger", normalized):
            return Signal("danger", threat)
        return Signal(None, threat)
