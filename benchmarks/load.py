"""Steady load on /v1/chat over real HTTP on loopback: throughput, latency, errors, server memory.

    python benchmarks/load.py [--seconds 60] [--concurrency 16] [--max-requests 200000]

Starts the real server (`uvicorn bot.api:app`, one worker, default settings but a rate limit high enough for the
test) on a free 127.0.0.1 port, sends a mix of real-looking questions (pack examples in all three scripts, long
stories, unanswerable ones, bad requests) for a fixed time, and stops by itself. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.pack import load_pack  # noqa: E402
from bot.text import converter  # noqa: E402
from tests.server import ApiServer  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def question_mix(seed: int = 7) -> list[dict]:
    pack = load_pack(ROOT / "intents" / "cn")
    rng = random.Random(seed)
    to_hant = converter("s2t").convert
    mix: list[dict] = []
    for intent in pack.intents.values():
        mix += [{"message": q} for q in rng.sample(intent.examples["zh-Hans"], 3)]
        mix += [{"message": to_hant(q)} for q in rng.sample(intent.examples["zh-Hans"], 1)]
        mix += [{"message": q} for q in rng.sample(intent.examples["en"], 2)]
    story = "我信用卡欠了五万多，逾期八个月了，今天催收打电话给我爸妈和公司领导，还说明天要上门，我该怎么办"
    mix += [{"message": story}] * 10
    mix += [{"message": "北京明天天气怎么样"}, {"message": "how do I bake bread"}] * 5
    mix += [{"message": ""}, {"message": "x" * 1200}, {"message": 123}] * 3  # bad input: a 422 is the right answer
    rng.shuffle(mix)
    return mix


async def run(url: str, seconds: float, concurrency: int, max_requests: int) -> dict:
    mix = question_mix()
    latencies: list[float] = []
    codes: dict[int, int] = {}
    errors = 0
    deadline = time.monotonic() + seconds
    sent = 0

    async def worker(client: httpx.AsyncClient, offset: int) -> None:
        nonlocal errors, sent
        i = offset
        while time.monotonic() < deadline and sent < max_requests:
            sent += 1
            body = mix[i % len(mix)]
            i += concurrency
            started = time.perf_counter()
            try:
                response = await client.post("/v1/chat", json=body)
                codes[response.status_code] = codes.get(response.status_code, 0) + 1
                expected_4xx = body["message"] in ("", 123) or len(str(body["message"])) > 1000
                if response.status_code >= 500 or (response.status_code != 200 and not expected_4xx):
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            latencies.append((time.perf_counter() - started) * 1000)

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=10, limits=limits) as client:
        began = time.monotonic()
        await asyncio.gather(*(worker(client, k) for k in range(concurrency)))
        elapsed = time.monotonic() - began
    latencies.sort()
    return {
        "requests": len(latencies),
        "seconds": round(elapsed, 1),
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2),
        "errors": errors,
        "status_codes": dict(sorted(codes.items())),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-requests", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = ApiServer(Path(tmp), rate_limit="100000000/minute", BOT_LOG_LEVEL="warning").start()
        try:
            asyncio.run(run(server.url, 3, 4, 1000))  # warm-up
            samples = [round(rss_mb(server.proc.pid), 1)]
            stop = threading.Event()

            def sample() -> None:  # server memory every 10 s: it must stay flat under steady load
                while not stop.wait(10):
                    samples.append(round(rss_mb(server.proc.pid), 1))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            figures = asyncio.run(run(server.url, args.seconds, args.concurrency, args.max_requests))
            stop.set()
            figures["server_rss_mb_start"] = samples[0]
            figures["server_rss_mb_end"] = round(rss_mb(server.proc.pid), 1)
            figures["server_rss_mb_every_10s"] = samples
        finally:
            server.stop()
    print(json.dumps({"concurrency": args.concurrency, **figures}, indent=2))


if __name__ == "__main__":
    main()
