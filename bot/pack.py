"""Loading and validating a content pack (a folder of YAML files; format in docs/pack-format.md).

Everything a reply needs is prepared here, once: answers in every served language (zh-Hant derived from zh-Hans
with OpenCC), and citations resolved against the pack's `sources`. A pack with any problem is refused as a whole,
with every problem listed, so a bad edit never reaches users.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot import classifier
from bot.safety import KINDS as PHRASE_KINDS
from bot.text import Synonyms, converter, normalize

AUTHORED = ("zh-Hans", "en")
SERVED = ("zh-Hans", "zh-Hant", "en")
# The pseudo-intent of near-domain questions the pack does not answer (pack.yaml `out_of_scope`); when it ranks
# first the engine falls back. Same name as the eval sets' label for such questions.
OUT_OF_SCOPE = "none"
# The pseudo-intent of messages that name a debt but ask nothing yet ("我欠了钱", "I owe money", pack.yaml `general`):
# when it ranks first the engine asks which topic, instead of guessing the nearest one with full confidence.
GENERAL = "general"
PSEUDO = (OUT_OF_SCOPE, GENERAL)  # ranked like intents, never answered
MODEL_FILE = "model.npz"  # trained classifier weights, written by `python -m bot calibrate --write`
HANT_VARIANTS = ("s2t", "s2tw", "s2hk")
_ID_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
_TOPIC_KEYS = {"intents", "phrases", "calibration"}
_INTENT_KEYS = {"id", "title", "examples", "answer", "citations", "related", "reviewed"}
# libyaml's loader parses the pack about ten times faster than the pure-Python one: most of a cold start.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class PackError:
    """One problem, named by file and intent so a counselor can find it."""

    file: str
    message: str
    intent: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        return f"{where}: {self.intent + ': ' if self.intent else ''}{self.message}"


class PackInvalid(Exception):
    def __init__(self, errors: list[PackError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


@dataclass(frozen=True)
class Citation:
    title: dict[str, str]
    article: dict[str, str | None]
    url: str | None
    source: str
    ref: str | None = None


@dataclass(frozen=True)
class Intent:
    id: str
    title: dict[str, str]
    examples: dict[str, list[str]]
    answer: dict[str, str]
    citations: tuple[Citation, ...]
    related: tuple[str, ...]
    reviewed: str
    file: str
    # Titles and examples in matching form (normalized once, here), without duplicates: what the matcher indexes.
    phrasings: tuple[str, ...] = ()

    @property
    def category(self) -> str:
        return self.id.split(".", 1)[0]


@dataclass
class Pack:
    id: str
    name: dict[str, str]
    disclaimer: dict[str, str]
    fallback: dict[str, str]
    clarify: dict[str, str]
    popular: tuple[str, ...]
    thresholds: dict[str, float]
    sources: dict[str, dict[str, Any]]
    synonyms: Synonyms
    intents: dict[str, Intent]
    phrases: dict[str, list[str]] = field(default_factory=dict)
    domain: tuple[str, ...] = ()
    out_of_scope: tuple[str, ...] = ()  # matching phrasings of questions the pack does not answer
    general: tuple[str, ...] = ()  # matching phrasings of messages too general to answer
    model: classifier.Model | None = None  # trained weights (model.npz); the matcher retrains them if stale
    calibrated_for: str | None = None  # fingerprint of the model the calibration was fitted with
    calibration: tuple[tuple[float, ...], tuple[float, ...]] | None = None  # (scores, confidences), see calibrate.py
    path: str = ""


def _read_yaml(path: Path, root: Path, errors: list[PackError]) -> Any:
    name = str(path.relative_to(root))
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        errors.append(PackError(name, f"YAML syntax error: {exc.problem}", line=line))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        errors.append(PackError(name, f"cannot read: {exc}"))
    return None


def _per_language(value: Any, what: str, file: str, intent: str | None, errors: list[PackError]) -> dict[str, Any]:
    """A mapping with every authored language present and non-empty."""
    if not isinstance(value, dict):
        errors.append(PackError(file, f"{what} must map each language ({', '.join(AUTHORED)}) to text", intent))
        return {}
    for lang in AUTHORED:
        text = value.get(lang)
        if text is None or (
            isinstance(text, str | list)
            and not any(str(t).strip() for t in (text if isinstance(text, list) else [text]))
        ):
            errors.append(PackError(file, f"{what} is missing or empty for {lang}", intent))
    for lang in value:
        if lang not in AUTHORED:
            hint = " (zh-Hant is derived with OpenCC; do not write it)" if lang == "zh-Hant" else ""
            errors.append(PackError(file, f"{what} has unknown language {lang!r}{hint}", intent))
    return value


def matching_phrasings(
    title: dict[str, str], examples: dict[str, list[str]], synonyms: Synonyms, keys: dict[str, list[str]] | None = None
) -> tuple[str, ...]:
    """Titles and examples in matching form, normalized once at load time, without duplicates or blanks.

    `keys` are the examples already normalized, when the caller has them (load_pack does, from its duplicate check).
    """
    if keys is None:
        keys = {lang: [normalize(t, synonyms) for t in examples.get(lang, [])] for lang in AUTHORED}
    texts = [normalize(str(title.get(lang, "")), synonyms) for lang in AUTHORED] + [
        key for lang in AUTHORED for key in keys.get(lang, [])
    ]
    return tuple(p for p in dict.fromkeys(texts) if p)


class HantConverter:
    """Simplified -> Traditional, characters only, with protected phrases the pack corrects.

    OpenCC's phrase tables sometimes pick the wrong word for our domain (发卡银行 becomes 髮卡銀行, "hairpin bank"):
    the pack's `hant_overrides` lists such phrases with their right form, swapped in around the conversion.
    """

    def __init__(self, variant: str, overrides: dict[str, str]) -> None:
        self._convert = converter(variant).convert
        self._overrides = dict(sorted(overrides.items(), key=lambda kv: -len(kv[0])))
        self._pattern = re.compile("|".join(map(re.escape, self._overrides))) if self._overrides else None

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return self._convert(text)
        pieces, last = [], 0
        for m in self._pattern.finditer(text):
            pieces.append(self._convert(text[last : m.start()]))
            pieces.append(self._overrides[m.group(0)])
            last = m.end()
        pieces.append(self._convert(text[last:]))
        return "".join(pieces)


def _pseudo_phrasings(
    meta: dict[str, Any], key: str, example_owner: dict[str, str], synonyms: Synonyms, errors: list[PackError]
) -> tuple[str, ...]:
    """A pseudo-intent's phrasings from pack.yaml (`out_of_scope`, `general`) in matching form, each normalized once;
    none may also be an intent's example, or the two would tie on it."""
    texts = meta.get(key) or {}
    if not isinstance(texts, dict) or not all(lang in AUTHORED and isinstance(v, list) for lang, v in texts.items()):
        errors.append(PackError("pack.yaml", f"{key} must map languages ({', '.join(AUTHORED)}) to lists"))
        return ()
    texts = {lang: [str(x) for x in values] for lang, values in texts.items()}
    keys = {lang: [normalize(text, synonyms) for text in values] for lang, values in texts.items()}
    for lang, values in texts.items():
        for text, normalized in zip(values, keys[lang], strict=True):
            owner = example_owner.get(normalized)
            if owner is not None:
                errors.append(PackError("pack.yaml", f"{key} example {text!r} is also an example of {owner}"))
    return matching_phrasings({}, texts, synonyms, keys)


def _served(texts: dict[str, str], to_hant: HantConverter) -> dict[str, str]:
    out = {lang: str(texts.get(lang, "")).strip() for lang in AUTHORED}
    out["zh-Hant"] = to_hant(out["zh-Hans"])
    return out


def _calibration(data: Any, file: str, errors: list[PackError]) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """A monotone table from match score to confidence, both rising from 0 to at most 1."""
    try:
        xs = tuple(float(x) for x in data["score"])
        ys = tuple(float(y) for y in data["confidence"])
    except (KeyError, TypeError, ValueError):
        errors.append(PackError(file, "calibration needs lists `score` and `confidence` of numbers"))
        return None
    rising = all(a < b for a, b in zip(xs, xs[1:], strict=False)) and all(
        a <= b for a, b in zip(ys, ys[1:], strict=False)
    )
    if len(xs) != len(ys) or len(xs) < 2 or not rising or not all(0 <= v <= 1 for v in xs + ys):
        errors.append(PackError(file, "calibration must rise from score 0 to 1 with confidences in [0, 1]"))
        return None
    return xs, ys


def load_pack(directory: str | Path, hant_variant: str = "s2t") -> Pack:
    """Read, check and prepare a pack; raise PackInvalid listing every problem found."""
    root = Path(directory)
    errors: list[PackError] = []
    if not (root / "pack.yaml").is_file():
        raise PackInvalid([PackError(str(root), "no pack.yaml in this folder")])
    if hant_variant not in HANT_VARIANTS:
        raise PackInvalid([PackError(str(root), f"unknown Traditional variant {hant_variant!r}")])

    meta = _read_yaml(root / "pack.yaml", root, errors)
    if errors:  # a syntax error: the settings checks below would only repeat it in other words
        raise PackInvalid(errors)
    if not isinstance(meta, dict):
        raise PackInvalid([PackError("pack.yaml", "must be a mapping of settings")])
    for key in ("id", "name", "languages", "disclaimer", "fallback", "clarify", "sources", "thresholds"):
        if key not in meta:
            errors.append(PackError("pack.yaml", f"missing required key {key!r}"))
    languages = meta.get("languages") or []
    if sorted(languages) != sorted(AUTHORED):
        errors.append(PackError("pack.yaml", f"languages must be {list(AUTHORED)} (zh-Hant is derived)"))
    for key in ("name", "disclaimer", "fallback", "clarify"):
        _per_language(meta.get(key), key, "pack.yaml", None, errors)

    to_hant = HantConverter(hant_variant, {str(k): str(v) for k, v in (meta.get("hant_overrides") or {}).items()})
    sources = meta.get("sources") or {}
    for key, source in sources.items():
        if not isinstance(source, dict) or not isinstance(source.get("title"), dict):
            errors.append(PackError("pack.yaml", f"source {key!r} needs a title per language"))
            continue
        _per_language(source["title"], f"source {key!r} title", "pack.yaml", None, errors)
    thresholds = {k: float(v) for k, v in (meta.get("thresholds") or {}).items()}
    thresholds.setdefault("off_domain", 1.0)
    thresholds.setdefault("nearby", 1.0)  # 1: a fallback offers popular topics only
    thresholds.setdefault("vague", 0.0)  # 0: no message is too vague to answer
    if thresholds["vague"] < 0:
        errors.append(PackError("pack.yaml", "thresholds.vague must not be negative"))
    for key in ("answer", "fallback", "margin", "off_domain", "nearby"):
        if not 0 <= thresholds.get(key, -1) <= 1:
            errors.append(PackError("pack.yaml", f"thresholds.{key} must be a number from 0 to 1"))
    if thresholds.get("fallback", 0) > thresholds.get("answer", 1):
        errors.append(PackError("pack.yaml", "thresholds.fallback must not exceed thresholds.answer"))
    synonyms_table = meta.get("synonyms") or {}
    if not isinstance(synonyms_table, dict) or not all(isinstance(v, list) for v in synonyms_table.values()):
        errors.append(PackError("pack.yaml", "synonyms must map a canonical word to a list of variants"))
        synonyms_table = {}
    synonyms = Synonyms(synonyms_table)

    raw_intents: list[tuple[str, dict[str, Any]]] = []
    phrases: dict[str, list[str]] = {kind: [] for kind in PHRASE_KINDS}
    calibration, calibrated_for = None, None
    for path in sorted(root.glob("*.yaml")):
        if path.name == "pack.yaml":
            continue
        name = path.name
        data = _read_yaml(path, root, errors)
        if data is None:
            continue
        if not isinstance(data, dict) or not set(data) <= _TOPIC_KEYS:
            errors.append(PackError(name, f"a topic file holds only {sorted(_TOPIC_KEYS)}"))
            continue
        if "calibration" in data:
            calibration = _calibration(data["calibration"], name, errors)
            fit = data["calibration"].get("fit") if isinstance(data["calibration"], dict) else None
            calibrated_for = str(fit["model"]) if isinstance(fit, dict) and fit.get("model") else None
        for kind, lists in (data.get("phrases") or {}).items():
            if kind not in PHRASE_KINDS or not isinstance(lists, dict):
                errors.append(PackError(name, f"phrases.{kind}: unknown kind or not a per-language mapping"))
                continue
            phrases[kind] += [normalize(str(p)) for texts in lists.values() for p in texts or []]
        for item in data.get("intents") or []:
            if not isinstance(item, dict) or "id" not in item:
                errors.append(PackError(name, "every intent needs an id"))
                continue
            raw_intents.append((name, item))

    ids = [str(item["id"]) for _, item in raw_intents]
    seen: dict[str, str] = {}
    for name, item in raw_intents:
        iid = str(item["id"])
        if iid in seen:
            errors.append(PackError(name, f"duplicate id (also in {seen[iid]})", iid))
        seen.setdefault(iid, name)
        if not _ID_RE.match(iid):
            errors.append(PackError(name, "id must be dotted lower-case words, e.g. contact.family", iid))

    intents: dict[str, Intent] = {}
    example_owner: dict[str, str] = {}
    for name, item in raw_intents:
        iid = str(item["id"])
        unknown = set(item) - _INTENT_KEYS
        if unknown:
            errors.append(PackError(name, f"unknown keys {sorted(unknown)}", iid))
        title = _per_language(item.get("title"), "title", name, iid, errors)
        answer = _per_language(item.get("answer"), "answer", name, iid, errors)
        examples = _per_language(item.get("examples"), "examples", name, iid, errors)
        examples = {lang: [str(e) for e in (examples.get(lang) or [])] for lang in AUTHORED}
        # Normalized once for both the duplicate check and the phrasings: synonyms cost a third of the load time.
        keys = {lang: [normalize(text, synonyms) for text in texts] for lang, texts in examples.items()}
        for lang, texts in examples.items():
            for text, key in zip(texts, keys[lang], strict=True):
                if not key:
                    errors.append(PackError(name, f"empty example {text!r} ({lang})", iid))
                elif key in example_owner and example_owner[key] != iid:
                    errors.append(PackError(name, f"example {text!r} is also an example of {example_owner[key]}", iid))
                example_owner.setdefault(key, iid)
        citations = []
        for cite in item.get("citations") or []:
            if not isinstance(cite, dict) or cite.get("source") not in sources:
                source = cite.get("source") if isinstance(cite, dict) else cite
                errors.append(PackError(name, f"citation source {source!r} is not in pack.yaml sources", iid))
                continue
            source = sources[cite["source"]]
            article = cite.get("article")
            articles = article if isinstance(article, dict) else {lang: article for lang in AUTHORED}
            citations.append(
                Citation(
                    title=_served(source["title"], to_hant),
                    article={
                        **{k: (str(v) if v else None) for k, v in articles.items()},
                        "zh-Hant": to_hant(str(articles["zh-Hans"])) if articles.get("zh-Hans") else None,
                    },
                    url=source.get("url"),
                    source=cite["source"],
                    ref=cite.get("ref"),
                )
            )
        if not citations and not iid.startswith(("meta.",)):
            errors.append(PackError(name, "cites no source (every intent outside meta.* must)", iid))
        related = tuple(str(r) for r in item.get("related") or [])
        for rid in related:
            if rid not in ids:
                errors.append(PackError(name, f"related id {rid!r} does not exist", iid))
        reviewed = item.get("reviewed")
        if not isinstance(reviewed, dt.date):
            errors.append(PackError(name, "reviewed must be a date (YYYY-MM-DD) of the last legal review", iid))
        intents[iid] = Intent(
            id=iid,
            title=_served(title, to_hant),
            examples=examples,
            answer=_served(answer, to_hant),
            citations=tuple(citations),
            related=related,
            reviewed=str(reviewed),
            file=name,
            phrasings=matching_phrasings(title, examples, synonyms, keys),
        )

    domain = meta.get("domain") or {}
    if not isinstance(domain, dict) or not all(isinstance(v, list) for v in domain.values()):
        errors.append(PackError("pack.yaml", "domain must map each language to a list of words"))
        domain = {}
    domain_words = tuple(
        dict.fromkeys(w for words in domain.values() for w in (normalize(str(x), synonyms) for x in words) if w)
    )
    out_of_scope = _pseudo_phrasings(meta, "out_of_scope", example_owner, synonyms, errors)
    general = _pseudo_phrasings(meta, "general", example_owner, synonyms, errors)
    model = None
    if (root / MODEL_FILE).is_file():
        try:
            model = classifier.load(root / MODEL_FILE)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            errors.append(PackError(MODEL_FILE, f"cannot read the trained model: {exc}"))
    popular = tuple(str(p) for p in meta.get("popular") or [])
    for pid in popular:
        if pid not in intents:
            errors.append(PackError("pack.yaml", f"popular id {pid!r} does not exist"))
    if not intents:
        errors.append(PackError(str(root), "the pack has no intents"))
    if errors:
        raise PackInvalid(errors)
    return Pack(
        id=str(meta["id"]),
        name=_served(meta["name"], to_hant),
        disclaimer=_served(meta["disclaimer"], to_hant),
        fallback=_served(meta["fallback"], to_hant),
        clarify=_served(meta["clarify"], to_hant),
        popular=popular,
        thresholds=thresholds,
        sources=sources,
        synonyms=synonyms,
        intents=intents,
        phrases={k: [p for p in v if p] for k, v in phrases.items()},
        domain=domain_words,
        out_of_scope=out_of_scope,
        general=general,
        calibration=calibration,
        model=model,
        calibrated_for=calibrated_for,
        path=str(root),
    )
