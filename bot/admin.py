"""The counselor insights page: `GET /admin`, `/admin/export.csv` and `/admin/data.json`.

Counselors improve a pack by seeing what borrowers asked that the bot could not answer and which answers people
marked unhelpful. The page is server-rendered HTML with no script at all, so a strict CSP holds; every value that
comes from the database (borrowers' redacted questions and comments) is HTML-escaped, and CSV cells that a
spreadsheet would run as a formula are defused.

Access: `BOT_ADMIN_TOKEN`. Unset, the routes answer 404 (the page does not exist); otherwise the token is accepted
as `Authorization: Bearer <token>` or as the password of HTTP Basic, so a browser can log in with its own prompt.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import html
import io
import itertools
import re
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

import numpy as np
import yaml
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from rapidfuzz import fuzz, process
from sqlalchemy.exc import SQLAlchemyError

from bot.store import UNANSWERED_TYPES, Store, Window
from bot.text import Synonyms, converter, normalize

if TYPE_CHECKING:
    from bot.dialogue import Engine
    from bot.settings import Settings

LANGS = ("zh-Hans", "zh-Hant", "en")
REPLY_TYPES = ("answer", "clarify", "fallback", "crisis")
DEFAULT_SIMILARITY = 75
#: At most this many distinct unanswered phrasings are clustered (the most frequent); cdist is quadratic.
MAX_PHRASINGS = 3000
PACK_ID = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

STYLE = """
body{font:15px/1.5 system-ui,"Noto Sans CJK SC",sans-serif;margin:0 auto;max-width:1200px;padding:1rem 1.5rem;
color:#1a1a1a}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #ddd;padding:.3rem .5rem;
text-align:left;vertical-align:top}th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}
form{display:flex;flex-wrap:wrap;gap:.75rem;align-items:end;background:#f7f7f7;padding:.75rem;border-radius:6px}
label{display:flex;flex-direction:column;font-size:.85rem}ul{margin:0;padding-left:1.2rem}
.cards{display:flex;flex-wrap:wrap;gap:1rem}.card{border:1px solid #ddd;border-radius:6px;padding:.5rem 1rem}
.card b{display:block;font-size:1.3rem}.muted{color:#666;font-size:.85rem}
pre{margin:0;font-size:.85rem;white-space:pre-wrap}
""".strip()
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
#: No script anywhere; the one inline <style> is allowed by its hash, not by 'unsafe-inline'.
CSP = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
CHALLENGE = 'Basic realm="debt-rights-bot admin", charset="UTF-8"'


# --- access ---------------------------------------------------------------------------------------------------------


def supplied_token(authorization: str) -> str | None:
    """The token from `Bearer <token>` or from the password of `Basic base64(user:token)`; None if neither."""
    scheme, _, credentials = authorization.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer" and credentials:
        return credentials
    if scheme.lower() == "basic" and credentials:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        _user, sep, password = decoded.partition(":")
        return password if sep else None
    return None


def require_token(settings: Settings) -> Callable[[Request], None]:
    def check(request: Request) -> None:
        if not settings.admin_token:
            raise HTTPException(404, detail="Not Found")
        token = supplied_token(request.headers.get("authorization", ""))
        expected = settings.admin_token.encode("utf-8")
        if token is None or not secrets.compare_digest(token.encode("utf-8"), expected):
            raise HTTPException(
                401, detail="admin token required", headers={"WWW-Authenticate": CHALLENGE, **SECURITY_HEADERS}
            )

    return check


# --- filters --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    window: Window
    similarity: int = DEFAULT_SIMILARITY

    def query(self, **extra: str) -> str:
        """The filters as a query string, for links that keep them (exports)."""
        w = self.window
        params = {
            "from": w.start.isoformat() if w.start else "",
            "to": w.end.isoformat() if w.end else "",
            "lang": w.lang or "",
            "pack": w.pack or "",
            "similarity": str(self.similarity),
            **extra,
        }
        return urlencode({k: v for k, v in params.items() if v})


def _bad_query(name: str, message: str) -> HTTPException:
    return HTTPException(422, detail=[{"loc": ["query", name], "msg": message, "type": "value_error"}])


def _date(name: str, value: str) -> date | None:
    if not value.strip():
        return None  # an empty form field means "no bound"
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise _bad_query(name, "expected a date as YYYY-MM-DD") from None


def filters(
    start: str = Query("", alias="from", description="First UTC day, YYYY-MM-DD (inclusive)."),
    end: str = Query("", alias="to", description="Last UTC day, YYYY-MM-DD (inclusive)."),
    lang: str = Query("", description="zh-Hans, zh-Hant or en; empty for all."),
    pack: str = Query("", description="Pack id; empty for all."),
    similarity: int = Query(DEFAULT_SIMILARITY, ge=50, le=100, description="Grouping threshold, 50-100."),
) -> Filters:
    """Query parameters as the HTML form sends them: empty strings mean "all"; anything else is validated (422)."""
    first, last = _date("from", start), _date("to", end)
    if first and last and first > last:
        raise _bad_query("to", "'to' is before 'from'")
    if lang and lang not in LANGS:
        raise _bad_query("lang", f"expected one of {list(LANGS)}")
    if pack and not PACK_ID.match(pack):
        raise _bad_query("pack", "not a pack id")
    return Filters(Window(first, last, lang or None, pack or None), similarity)


FiltersDep = Annotated[Filters, Depends(filters)]


# --- grouping unanswered questions ----------------------------------------------------------------------------------


@dataclass
class Phrasing:
    text: str
    lang: str
    count: int
    last_seen: datetime


@dataclass
class Group:
    pack: str
    phrasings: list[Phrasing] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(p.count for p in self.phrasings)

    @property
    def representative(self) -> str:
        return self.phrasings[0].text

    @property
    def last_seen(self) -> datetime:
        return max(p.last_seen for p in self.phrasings)

    def examples(self) -> dict[str, list[str]]:
        """The phrasings as a pack's `examples:` (zh-Hans and en only: zh-Hant is derived, never written)."""
        found: dict[str, list[str]] = {}
        for p in self.phrasings:
            lang = "en" if p.lang == "en" else "zh-Hans"
            text = converter("t2s").convert(p.text) if p.lang == "zh-Hant" else p.text
            if text not in found.setdefault(lang, []):
                found[lang].append(text)
        return found


def group_unanswered(
    rows: Iterable[Any], threshold: int, synonyms_for: Callable[[str], Synonyms | None] = lambda _pack: None
) -> list[Group]:
    """Cluster phrasings (rows with pack, text, n, last_seen) per pack, biggest group first.

    Texts are compared in their matching form (`bot.text.normalize` with the pack's synonyms), so variants that
    only differ in script, punctuation or slang are one phrasing. Greedy: the most frequent unassigned phrasing
    founds a group and takes every unassigned phrasing scoring at least `threshold` against it
    (`fuzz.token_set_ratio`), so a group is what one new example line in the pack would cover.
    """
    by_pack: dict[str, dict[str, list[Phrasing]]] = defaultdict(dict)
    for row in rows:
        text = str(row["text"])
        key = normalize(text, synonyms_for(row["pack"])) or text.strip()
        phrasing = Phrasing(text, row["lang"], int(row["n"]), row["last_seen"])
        by_pack[row["pack"]].setdefault(key, []).append(phrasing)

    groups: list[Group] = []
    for pack, keyed in by_pack.items():
        keys = sorted(keyed, key=lambda k: (-sum(p.count for p in keyed[k]), k))
        scores = process.cdist(
            keys, keys, scorer=fuzz.token_set_ratio, score_cutoff=threshold, dtype=np.uint8, workers=1
        )
        free = np.ones(len(keys), dtype=bool)
        for i in range(len(keys)):
            if not free[i]:
                continue
            members = np.flatnonzero(free & (scores[i] >= threshold))
            members = np.union1d(members, [i])
            free[members] = False
            # The commonest wording (its variants together) leads; within it, the most asked, then the latest.
            ranked = [(rank, p) for rank, j in enumerate(members) for p in keyed[keys[j]]]
            ranked.sort(key=lambda rp: (rp[0], -rp[1].count, -rp[1].last_seen.timestamp(), rp[1].text))
            groups.append(Group(pack, [p for _, p in ranked]))
    groups.sort(key=lambda g: (-g.count, -g.last_seen.timestamp(), g.representative))
    return groups


# --- the data behind the page ---------------------------------------------------------------------------------------


def iso(value: datetime | None) -> str | None:
    """Stored times are naive UTC; say so."""
    return None if value is None else value.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


class Insights:
    """Reads the store and shapes the numbers once, for the HTML page, the JSON and the CSV alike."""

    def __init__(self, store: Store, engines: Callable[[], dict[str, Engine]]) -> None:
        self.store = store
        self.engines = engines

    def packs(self) -> list[str]:
        return sorted(self.engines())

    def title(self, pack: str | None, intent: str | None) -> str | None:
        engine = self.engines().get(pack or "")
        found = engine.pack.intents.get(intent) if engine is not None and intent else None
        return found.title.get("zh-Hans") or next(iter(found.title.values()), None) if found else None

    def synonyms(self, pack: str) -> Synonyms | None:
        engine = self.engines().get(pack)
        return engine.pack.synonyms if engine is not None else None

    def unanswered(self, f: Filters) -> list[Group]:
        return group_unanswered(self.store.unanswered_phrasings(f.window, MAX_PHRASINGS), f.similarity, self.synonyms)

    def overview(self, f: Filters) -> dict[str, Any]:
        w = f.window
        types = self.store.type_counts(w)
        total = sum(types.values())
        days: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(REPLY_TYPES, 0))
        for row in self.store.daily_counts(w):
            days[str(row["day"])][row["type"]] = int(row["n"])
        comments: dict[tuple[Any, Any, Any], list[dict[str, Any]]] = defaultdict(list)
        for row in self.store.unhelpful_comments(w):
            comments[(row["pack"], row["intent"], row["type"])].append(
                {
                    "time": iso(row["created_at"]),
                    "lang": row["lang"],
                    "comment": row["comment"],
                    "question": row["text"],
                }
            )
        answers = []
        for row in self.store.feedback_by_answer(w):
            key = (row["pack"], row["intent"], row["type"])
            answers.append(
                {
                    "pack": row["pack"],
                    "intent": row["intent"],
                    "type": row["type"],
                    "title": self.title(row["pack"], row["intent"]),
                    "helpful": int(row["helpful"] or 0),
                    "unhelpful": int(row["unhelpful"] or 0),
                    "comments": comments.get(key, []),
                }
            )
        return {
            "filters": {
                "from": w.start.isoformat() if w.start else None,
                "to": w.end.isoformat() if w.end else None,
                "lang": w.lang,
                "pack": w.pack,
                "similarity": f.similarity,
            },
            "total": total,
            "fallback_rate": types.get("fallback", 0) / total if total else 0.0,
            "unanswered_rate": sum(types.get(t, 0) for t in UNANSWERED_TYPES) / total if total else 0.0,
            "types": [
                {"type": t, "count": types.get(t, 0), "share": types.get(t, 0) / total if total else 0.0}
                for t in sorted(types.keys() | set(REPLY_TYPES), key=lambda t: -types.get(t, 0))
            ],
            "by_day": [{"day": day, "total": sum(counts.values()), **counts} for day, counts in sorted(days.items())],
            "top_intents": [
                {"pack": r["pack"], "intent": r["intent"], "title": self.title(r["pack"], r["intent"]), "count": r["n"]}
                for r in self.store.top_intents(w)
            ],
            "feedback": {
                "helpful": sum(a["helpful"] for a in answers),
                "unhelpful": sum(a["unhelpful"] for a in answers),
                "answers": [a for a in answers if a["unhelpful"]],
            },
            "unanswered": [group_json(g) for g in self.unanswered(f)],
        }


def examples_yaml(examples: dict[str, list[str]]) -> str:
    """A block to paste under an intent in a topic file."""
    return yaml.safe_dump({"examples": examples}, allow_unicode=True, sort_keys=False, width=1000)


def group_json(group: Group) -> dict[str, Any]:
    return {
        "pack": group.pack,
        "count": group.count,
        "representative": group.representative,
        "last_seen": iso(group.last_seen),
        "phrasings": [
            {"text": p.text, "lang": p.lang, "count": p.count, "last_seen": iso(p.last_seen)} for p in group.phrasings
        ],
        "examples": group.examples(),
    }


EVENT_COLUMNS = (
    "created_at",
    "reply_id",
    "pack",
    "lang",
    "type",
    "intent",
    "confidence",
    "latency_ms",
    "text",
    "helpful",
    "comment",
)
UNANSWERED_COLUMNS = (
    "group",
    "group_count",
    "pack",
    "representative",
    "phrasing",
    "lang",
    "phrasing_count",
    "last_seen",
)


def event_json(row: Any) -> dict[str, Any]:
    return {name: iso(row[name]) if name == "created_at" else row[name] for name in EVENT_COLUMNS}


def unanswered_rows(groups: list[Group]) -> Iterator[tuple[Any, ...]]:
    """One row per phrasing, so a counselor can paste a whole group into a pack's examples."""
    for number, group in enumerate(groups, start=1):
        for p in group.phrasings:
            yield (number, group.count, group.pack, group.representative, p.text, p.lang, p.count, iso(p.last_seen))


# --- CSV ------------------------------------------------------------------------------------------------------------


def csv_cell(value: Any) -> Any:
    """Text a spreadsheet would run as a formula (=, +, -, @, tab, CR first) gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_lines(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """CSV text in chunks; starts with a BOM so Excel reads the Chinese as UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(header)
    for count, row in enumerate(rows, start=1):
        writer.writerow([csv_cell(v) for v in row])
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


# --- HTML -----------------------------------------------------------------------------------------------------------


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def _table(headers: Iterable[str], rows: Iterable[Iterable[str]], numeric: Iterable[int] = ()) -> str:
    """Cells in `rows` are already HTML (escape them when building); headers are escaped here."""
    right = set(numeric)
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="n">{c}</td>' if i in right else f"<td>{c}</td>" for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body or ''}</tbody></table>"


def _select(name: str, current: str | None, options: Iterable[str], label: str) -> str:
    items = [f'<option value=""{" selected" if not current else ""}>all</option>']
    items += [f'<option value="{esc(o)}"{" selected" if o == current else ""}>{esc(o)}</option>' for o in options]
    return f'<label>{esc(label)}<select name="{esc(name)}">{"".join(items)}</select></label>'


def render_page(data: dict[str, Any], f: Filters, packs: list[str]) -> str:
    w = f.window
    pack_options = sorted(set(packs) | ({w.pack} if w.pack else set()))
    form = (
        '<form method="get" action="admin">'
        f'<label>from (UTC)<input type="date" name="from" value="{esc(w.start.isoformat() if w.start else "")}">'
        "</label>"
        f'<label>to (UTC)<input type="date" name="to" value="{esc(w.end.isoformat() if w.end else "")}"></label>'
        f"{_select('lang', w.lang, LANGS, 'language')}{_select('pack', w.pack, pack_options, 'pack')}"
        f'<label>grouping similarity<input type="number" name="similarity" min="50" max="100" '
        f'value="{esc(f.similarity)}"></label><button type="submit">apply</button></form>'
    )
    # Relative links (the page is /admin): they keep working behind a proxy that adds a path prefix.
    exports = " · ".join(
        f'<a href="{esc(href)}">{esc(text)}</a>'
        for href, text in (
            ("admin/export.csv?" + f.query(kind="unanswered"), "unanswered groups (CSV)"),
            ("admin/export.csv?" + f.query(kind="events"), "events (CSV)"),
            ("admin/data.json?" + f.query(), "all (JSON)"),
        )
    )
    fb = data["feedback"]
    cards = "".join(
        f'<div class="card">{esc(label)}<b>{esc(value)}</b></div>'
        for label, value in (
            ("replies", data["total"]),
            ("fallback rate", percent(data["fallback_rate"])),
            ("fallback + clarify", percent(data["unanswered_rate"])),
            ("helpful 👍", fb["helpful"]),
            ("unhelpful 👎", fb["unhelpful"]),
        )
    )
    groups = _table(
        (
            "#",
            "count",
            "pack",
            "most frequent phrasing",
            "all phrasings (count)",
            "as pack examples",
            "last seen (UTC)",
        ),
        (
            (
                str(n),
                esc(g["count"]),
                esc(g["pack"]),
                esc(g["representative"]),
                "<ul>" + "".join(f"<li>{esc(p['text'])} ({esc(p['count'])})</li>" for p in g["phrasings"]) + "</ul>",
                f"<pre>{esc(examples_yaml(g['examples']))}</pre>",
                esc(g["last_seen"]),
            )
            for n, g in enumerate(data["unanswered"], start=1)
        ),
        numeric=(0, 1),
    )
    unhelpful = _table(
        ("answer", "pack", "👎", "👍", "comments"),
        (
            (
                esc(a["intent"] or f"({a['type'] or 'reply not recorded'})")
                + (f'<br><span class="muted">{esc(a["title"])}</span>' if a["title"] else ""),
                esc(a["pack"]),
                esc(a["unhelpful"]),
                esc(a["helpful"]),
                "<ul>"
                + "".join(
                    f'<li>{esc(c["comment"])} <span class="muted">{esc(c["time"])} {esc(c["lang"])}'
                    + (f" · question: {esc(c['question'])}" if c["question"] else "")
                    + "</span></li>"
                    for c in a["comments"]
                )
                + "</ul>",
            )
            for a in fb["answers"]
        ),
        numeric=(2, 3),
    )
    by_day = _table(
        ("day (UTC)", "total", *REPLY_TYPES, "fallback rate"),
        (
            (
                esc(d["day"]),
                esc(d["total"]),
                *(esc(d.get(t, 0)) for t in REPLY_TYPES),
                percent(d["fallback"] / d["total"] if d["total"] else 0),
            )
            for d in data["by_day"]
        ),
        numeric=range(1, 7),
    )
    mix = _table(
        ("reply type", "count", "share"),
        ((esc(t["type"]), esc(t["count"]), percent(t["share"])) for t in data["types"]),
        numeric=(1, 2),
    )
    intents = _table(
        ("intent", "title", "pack", "replies"),
        ((esc(i["intent"]), esc(i["title"]), esc(i["pack"]), esc(i["count"])) for i in data["top_intents"]),
        numeric=(3,),
    )
    return (
        '<!doctype html><html lang="zh-Hans"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer"><title>Counselor insights · debt-rights-bot</title>'
        f"<style>{STYLE}</style></head><body>"
        "<h1>Counselor insights 咨询员看板</h1>"
        f'{form}<p>Export: {exports}</p><div class="cards">{cards}</div>'
        "<h2>Unanswered questions 未能回答的问题</h2>"
        '<p class="muted">Fallback and clarify replies, personal data masked, grouped by similarity. '
        "Add a group's phrasings as examples of an intent (or a new one) in the pack.</p>"
        f"{groups}<h2>Unhelpful answers 被标为没帮助的回答</h2>{unhelpful}"
        f"<h2>Replies by day 每日回复</h2>{by_day}<h2>Reply type mix 回复类型</h2>{mix}"
        f"<h2>Top intents 常见问题</h2>{intents}</body></html>"
    )


# --- routes ---------------------------------------------------------------------------------------------------------


def _unavailable() -> HTTPException:
    return HTTPException(503, detail="insights database unavailable", headers=SECURITY_HEADERS)


def admin_router(settings: Settings, store: Store, engines: Callable[[], dict[str, Engine]]) -> APIRouter:
    """The admin routes, behind the token. `engines` is called per request, so reloaded packs show up."""
    insights = Insights(store, engines)
    router = APIRouter(prefix="/admin", include_in_schema=False, dependencies=[Depends(require_token(settings))])

    @router.get("")
    def page(f: FiltersDep) -> HTMLResponse:
        try:
            data = insights.overview(f)
        except SQLAlchemyError:
            raise _unavailable() from None
        return HTMLResponse(render_page(data, f, insights.packs()), headers=SECURITY_HEADERS)

    @router.get("/data.json")
    def data_json(
        f: FiltersDep,
        kind: str = Query("overview", pattern="^(overview|events|unanswered)$"),
    ) -> JSONResponse:
        try:
            if kind == "events":
                body: Any = {"events": [event_json(r) for r in store.iter_events(f.window)]}
            elif kind == "unanswered":
                body = {"unanswered": [group_json(g) for g in insights.unanswered(f)]}
            else:
                body = insights.overview(f)
        except SQLAlchemyError:
            raise _unavailable() from None
        return JSONResponse(body, headers=SECURITY_HEADERS)

    @router.get("/export.csv")
    def export_csv(
        f: FiltersDep,
        kind: str = Query(..., pattern="^(events|unanswered)$"),
    ) -> Response:
        try:
            if kind == "unanswered":
                lines = csv_lines(UNANSWERED_COLUMNS, unanswered_rows(insights.unanswered(f)))
            else:
                rows = store.iter_events(f.window)
                first = next(rows, None)  # fail here (503) rather than halfway through a streamed file
                records = itertools.chain([] if first is None else [first], rows)
                lines = csv_lines(EVENT_COLUMNS, (event_json(r).values() for r in records))
        except SQLAlchemyError:
            raise _unavailable() from None
        stamp = datetime.now(UTC).strftime("%Y%m%d")
        headers = {
            **SECURITY_HEADERS,
            "Content-Disposition": f'attachment; filename="insights-{kind}-{stamp}.csv"',
        }
        return StreamingResponse(lines, media_type="text/csv; charset=utf-8", headers=headers)

    return router
