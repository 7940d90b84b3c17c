"""Crisis and danger detection, run before any intent matching.

Phrase lists are pack data (`phrases:` in a topic file), matched as substrings of the normalized message.
`threat` phrases (a collector telling the borrower to die) and `exclude` phrases (死刑, 死亡后…) are masked first,
so they cannot trigger a crisis reply; a threat still earns the crisis hotlines as a suggestion. `distress` phrases
(抑郁, "depressed") say the person is suffering without saying they want to die: the engine answers their question if
it can, with the hotlines offered first, and gives crisis help instead of "I did not understand" if it cannot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.text import has_cjk

KINDS = ("crisis", "danger", "threat", "exclude", "distress")  # the phrase lists a pack may give (load_pack checks)


@dataclass(frozen=True)
class Signal:
    kind: str | None  # "crisis", "danger" or None
    threat: bool  # the message reports a collector telling the user to die
    distress: bool = False  # the user says they are depressed, anxious or breaking down


class Phrases:
    """Finds and masks any of a set of normalized phrases.

    CJK phrases are plain substrings (`in` runs in C: far faster than one regex with hundreds of alternatives);
    Latin phrases must match whole words, so they go through one regex.
    """

    def __init__(self, items: list[str] | tuple[str, ...]) -> None:
        unique = sorted(set(items), key=len, reverse=True)
        self.cjk = [p for p in unique if has_cjk(p)]
        latin = [rf"(?<![a-z0-9]){re.escape(p)}(?![a-z0-9])" for p in unique if not has_cjk(p)]
        self.latin = re.compile("|".join(latin)) if latin else None

    def search(self, text: str) -> bool:
        return any(p in text for p in self.cjk) or (self.latin is not None and self.latin.search(text) is not None)

    def mask(self, text: str) -> str:
        for p in self.cjk:  # longest first, so a long phrase is masked before a phrase inside it
            if p in text:
                text = text.replace(p, " ")
        return text if self.latin is None else self.latin.sub(" ", text)


class Detector:
    def __init__(self, phrases: dict[str, list[str]]) -> None:
        self.crisis, self.danger, self.threat, self.exclude, self.distress = (
            Phrases(phrases.get(kind, [])) for kind in KINDS
        )

    def check(self, normalized: str) -> Signal:
        threat = self.threat.search(normalized)
        rest = self.exclude.mask(self.threat.mask(normalized))
        if self.crisis.search(rest):
            return Signal("crisis", threat)
        if self.danger.search(normalized):
            return Signal("danger", threat)
        return Signal(None, threat, distress=self.distress.search(rest))
