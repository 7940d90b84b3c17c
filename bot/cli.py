"""Command line: `python -m bot serve | ask | validate | eval` (also installed as `debt-rights-bot`)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.settings import Settings

if TYPE_CHECKING:
    from bot.pack import Pack


def _engine(pack_dir: str | None, settings: Settings):
    from bot.dialogue import Engine
    from bot.pack import load_pack

    return Engine(load_pack(pack_dir or settings.packs_dir / settings.default_pack, settings.hant_variant))


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    if args.packs:
        os.environ["BOT_PACKS_DIR"] = str(Path(args.packs).resolve())
    uvicorn.run(
        "bot.api:app",
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers or settings.workers,
        log_level=settings.log_level,
    )
    return 0


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    reply = _engine(args.pack_dir, settings).reply(args.question, args.lang)
    if args.json:
        print(json.dumps(reply.to_dict(), ensure_ascii=False, indent=2))
        return 0
    print(f"[{reply.type}] {reply.title or ''} (intent={reply.intent}, confidence={reply.confidence:.2f})\n")
    print(reply.answer)
    for c in reply.citations:
        print(f"  · {c['title']} {c['article'] or ''} {c['url'] or ''}".rstrip())
    for s in reply.suggestions:
        print(f"  → {s['title']} ({s['intent']})")
    print(f"\n{reply.disclaimer}")
    return 0


def cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    from bot.pack import PackInvalid, load_pack

    folder = args.pack_dir or settings.packs_dir / settings.default_pack
    try:
        pack = load_pack(folder, settings.hant_variant)
    except PackInvalid as exc:
        for error in exc.errors:
            print(error, file=sys.stderr)
        print(f"{folder}: {len(exc.errors)} problem(s)", file=sys.stderr)
        return 1
    examples = sum(len(v) for i in pack.intents.values() for v in i.examples.values())
    stale = stale_files(pack)
    for problem in stale:
        print(f"{folder}: {problem}: run `python -m bot calibrate {folder} --write`", file=sys.stderr)
    if stale:
        return 1
    print(f"{folder}: ok: {len(pack.intents)} intents, {examples} examples, {len(pack.sources)} sources")
    return 0


def stale_files(pack: Pack) -> list[str]:
    """What `calibrate --write` must regenerate: a stale model.npz, a calibration.yaml fitted to another model.

    A pack without model.npz is fine (small packs train at load in well under a second); a stale one means the
    examples changed since training, and the calibration with them."""
    from bot.matcher import Matcher

    matcher = Matcher(pack)
    problems = []
    if pack.model is not None and matcher.retrained:
        problems.append("model.npz was trained on other examples")
    if pack.calibration is not None and pack.calibrated_for != matcher.model.key:
        problems.append("calibration.yaml was fitted for another model")
    return problems


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from bot.evaluate import evaluate, load_items, sweep

    # Several sets are measured as one: thresholds tuned on one small set follow its few hardest questions.
    engine, items = _engine(args.pack_dir, settings), [item for path in args.set for item in load_items(path)]
    if args.sweep:
        steps = [round(x * 0.025, 3) for x in range(4, 33)]
        grid = {"answer": steps, "fallback": steps, "margin": [0.0, 0.02, 0.05, 0.08, 0.1, 0.12]}
        rows = sweep(engine, items, grid)
        rows.sort(key=lambda r: -(r["top1_accuracy"] + r["out_of_scope_rejection"]) + 4 * r["wrong_answer_rate"])
        for r in rows[: args.sweep]:
            print(json.dumps(r))
        return 0
    report = evaluate(engine, items).as_dict()
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0
    print(f"items: {report['items']} ({report['in_scope']} in scope, {report['out_of_scope']} out of scope)")
    low, high = report["top1_interval"]
    print(f"top-1 accuracy (in scope): {report['top1_accuracy']:.3f}  (95%: {low:.3f}-{high:.3f})")
    print(f"top-3 accuracy (in scope): {report['top3_accuracy']:.3f}")
    print(f"ranked first (in scope):   {report['ranked_first']:.3f}")
    print(f"out-of-scope rejection:    {report['out_of_scope_rejection']:.3f}")
    low, high = report["wrong_answer_interval"]
    print(f"wrong answers (confident, wrong topic): {report['wrong_answer_rate']:.3f}  (95%: {low:.3f}-{high:.3f})")
    print(f"clarify rate:              {report['clarify_rate']:.3f}")
    print(
        "per language: "
        + ", ".join(f"{k} {v['accuracy']:.3f} (n={v['items']})" for k, v in report["per_language"].items())
    )
    print(
        "ranked first per language (in scope): "
        + ", ".join(f"{k} {v['ranked_first']:.3f}" for k, v in report["per_language"].items())
    )
    print("per intent:")
    for k, v in report["per_intent"].items():
        print(f"  {k:32} {v['accuracy']:.2f} (n={v['items']})")
    print(f"misses ({len(report['misses'])}):")
    for m in report["misses"]:
        print(
            f"  - {m['q']!r}: expected {m['expected']}{' / ' + m['alt'] if m['alt'] else ''}, "
            f"got {m['got']} {m['intent'] or ''} ({m['confidence']:.2f}; ranked first: {m['top']})"
        )
    return 0


def cmd_calibrate(args: argparse.Namespace, settings: Settings) -> int:
    from bot import calibrate
    from bot.pack import load_pack

    folder = Path(args.pack_dir or settings.packs_dir / settings.default_pack)
    pack = load_pack(folder, settings.hant_variant)
    model = calibrate.train(pack)
    table = calibrate.fit(pack, model)
    print(json.dumps(table))
    if args.write:
        for path in calibrate.write(folder, model, table):
            print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="debt-rights-bot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.add_argument("--packs", help="folder holding pack folders (default: the bundled intents/)")
    serve.set_defaults(func=cmd_serve)

    ask = sub.add_parser("ask", help="answer one question")
    ask.add_argument("question")
    ask.add_argument("--lang", default="auto", choices=["auto", "zh-Hans", "zh-Hant", "en"])
    ask.add_argument("--pack-dir")
    ask.add_argument("--json", action="store_true", help="print the API response")
    ask.set_defaults(func=cmd_ask)

    validate = sub.add_parser("validate", help="check a pack")
    validate.add_argument("pack_dir", nargs="?")
    validate.set_defaults(func=cmd_validate)

    ev = sub.add_parser("eval", help="measure accuracy on a labelled question set")
    ev.add_argument("set", nargs="+", help="one or more labelled question sets (YAML), measured together")
    ev.add_argument("--pack-dir")
    ev.add_argument("--json", action="store_true")
    ev.add_argument("--sweep", type=int, metavar="N", help="try decision thresholds; print the N best settings")
    ev.set_defaults(func=cmd_eval)

    cal = sub.add_parser("calibrate", help="train the classifier; fit score -> confidence on held-out examples")
    cal.add_argument("pack_dir", nargs="?")
    cal.add_argument("--write", action="store_true", help="write model.npz and calibration.yaml into the pack")
    cal.set_defaults(func=cmd_calibrate)
    return parser


def main(argv: list[str] | None = None) -> int:
    if hasattr(signal, "SIGPIPE"):  # `python -m bot eval … | head` ends quietly
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    args = build_parser().parse_args(argv)
    return args.func(args, Settings.from_env())


if __name__ == "__main__":
    sys.exit(main())
