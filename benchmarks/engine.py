"""Engine speed and size: cold start, per-query latency over the dev questions, peak memory.

    python benchmarks/engine.py [--set ../shared/eval/dev.yaml] [--rounds 20]

Cold start is measured in a fresh interpreter (import + pack load), so nothing is warm. Latency is the whole
`Engine.reply` (normalize, safety, rank, decide, build the reply), one query at a time, on one core.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLD = (
    "import time; t = time.perf_counter(); "
    "from bot.dialogue import Engine; from bot.pack import load_pack; "
    "Engine(load_pack('intents/cn')); print(time.perf_counter() - t)"
)


def cold_start(runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", COLD], cwd=ROOT, capture_output=True, text=True, check=True)
        times.append(float(out.stdout.strip()))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", default=str(ROOT.parent / "shared" / "eval" / "dev.yaml"))
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    import yaml

    from bot.dialogue import Engine
    from bot.pack import load_pack

    questions = [item["q"] for item in yaml.safe_load(Path(args.set).read_text(encoding="utf-8"))]
    engine = Engine(load_pack(ROOT / "intents" / "cn"))
    for q in questions:  # warm-up
        engine.reply(q)
    samples = []
    for _ in range(args.rounds):
        for q in questions:
            t = time.perf_counter()
            engine.reply(q)
            samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    figures = {
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
        "intents": len(engine.pack.intents),
        "examples": len(engine.matcher.examples),
        "queries": len(samples),
        "median_ms": round(statistics.median(samples), 3),
        "p99_ms": round(samples[int(len(samples) * 0.99) - 1], 3),
        "max_ms": round(samples[-1], 3),
        "cold_start_s": round(cold_start(), 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
