"""Benchmark: our async teacher client against a naive client, on tests/openai_server.py (127.0.0.1).

Two workloads, each run by both clients in the same run, each against a fresh server process:
* throughput: N requests (default 2,000) answered after 200 ms; ours runs 64 in flight.
  throughput_ratio = achieved requests/s / (64 / 0.2 s), the ideal for that concurrency, in
  steady state (the server's answer times without the first and last 10 %: ramp-up and drain);
  `throughput_ratio_whole_run` is N / wall time, start-up and tail included.
* rate limit: the server caps requests per minute (default 600, one second of burst, 429
  beyond). Ours is told the cap (`teacher.rpm`). rpm_ratio = steady-state answered requests
  per minute (after a warm-up) / cap; rate_limited_share = 429 answers / requests sent.
Ours is `supercorrect.teacher.client.TeacherClient` (its cache in a temporary directory, so
every request is a miss that is written durably). The naive baseline is what the official
SuperCorrect code does: a pool of 64 threads, a new `openai.OpenAI` client per item, the SDK's
default retries, no rate limiting.

    python -m bench.teacher [--n 2000] [--baseline-n 500] [--rpm 600] [--rpm-seconds 40]

Takes about two minutes. The last line is one JSON object with ours, the baseline and ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from supercorrect.config import TeacherConfig
from supercorrect.teacher.client import TeacherClient

KEY = "sk-bench-key"
CONCURRENCY, LATENCY = 64, 0.2


class Server:
    """tests/openai_server.py in its own process (its own GIL), on a free port."""

    def __init__(self, latency: float, rpm: int | None = None):
        cmd = [sys.executable, "-m", "tests.openai_server", "--latency", str(latency), "--api-key", KEY]
        if rpm:
            cmd += ["--rpm", str(rpm)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        self.base_url = self.proc.stdout.readline().strip()

    def stats(self) -> dict:
        with urllib.request.urlopen(self.base_url.removesuffix("/v1") + "/_stats") as response:
            return json.loads(response.read())

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def _messages(i: int) -> list[dict]:
    return [{"role": "user", "content": f"Request {i}: what is {i} + {i}?"}]


def run_ours(base_url: str, n: int, rpm: int | None) -> float:
    """Seconds our client takes for n distinct requests."""
    os.environ.update(OPENAI_BASE_URL=base_url, OPENAI_API_KEY=KEY)
    with tempfile.TemporaryDirectory() as cache:
        cfg = TeacherConfig(backend="openai", model="bench", max_tokens=16, cache_dir=cache, timeout_s=30,
                            max_concurrency=CONCURRENCY, rpm=rpm)

        async def go():
            client = TeacherClient(cfg, "bench")
            try:
                start = time.perf_counter()
                outcomes = await client.complete_all([("bench", _messages(i)) for i in range(n)], "ours")
                elapsed = time.perf_counter() - start
            finally:
                await client.close()
            assert all(o.text for o in outcomes), "a request failed"
            return elapsed

        return asyncio.run(go())


def run_naive(base_url: str, n: int) -> float:
    """Seconds the naive thread pool takes; failed items are simply lost, as in the original."""
    import openai

    def one(i: int) -> None:
        client = openai.OpenAI(base_url=base_url, api_key=KEY, timeout=30)
        try:
            client.chat.completions.create(model="bench", messages=_messages(i), max_tokens=16, temperature=0.0)
        except openai.APIError:
            pass
        finally:
            client.close()

    start = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(one, range(n)))
    return time.perf_counter() - start


def steady_rate(times: list[float], trim: float = 0.1) -> float:
    """Answers per second between the first and last `trim` share of answers (ramp-up and drain cut)."""
    times = sorted(times)
    lo, hi = int(len(times) * trim), int(len(times) * (1 - trim)) - 1
    return (hi - lo) / (times[hi] - times[lo]) if hi > lo and times[hi] > times[lo] else 0.0


def rpm_figures(stats: dict, cap: int, n: int, warmup_s: float) -> dict:
    """Steady-state answered requests per minute after warm-up, and the 429 share."""
    times = sorted(stats["ok_times"])
    window = [t for t in times if t >= times[0] + warmup_s] if times else []
    if len(window) < 10:  # the run was too short for a steady state: use all of it
        window = times
    rpm = 60 * (len(window) - 1) / (window[-1] - window[0]) if len(window) > 1 else 0.0
    sent = sum(stats["by_status"].values())
    limited = stats["by_status"].get("429", 0)
    return {"rpm": round(rpm, 1), "rpm_ratio": round(rpm / cap, 4), "rate_limited_share": round(limited / sent, 4),
            "requests_sent": sent, "answered_share": round(len(times) / n, 4)}


def measure(name: str, run, n: int, rpm: int | None, warmup_s: float) -> dict:
    server = Server(LATENCY, rpm)
    try:
        elapsed = run(server.base_url)
        stats = server.stats()
    finally:
        server.close()
    ideal = CONCURRENCY / LATENCY
    if rpm is None:
        rps = steady_rate(stats["ok_times"])
        out = {"seconds": round(elapsed, 2), "rps": round(rps, 1), "throughput_ratio": round(rps / ideal, 4),
               "rps_whole_run": round(n / elapsed, 1), "throughput_ratio_whole_run": round(n / elapsed / ideal, 4),
               "answered_share": round(len(stats["ok_times"]) / n, 4)}
    else:
        out = rpm_figures(stats, rpm, n, warmup_s) | {"seconds": round(elapsed, 2)}
    print(f"{name}: {out}", file=sys.stderr, flush=True)
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="requests in the throughput workload")
    parser.add_argument("--baseline-n", type=int, default=500,
                        help="requests for the naive client's throughput run (it is slow; rates compare)")
    parser.add_argument("--rpm", type=int, default=600, help="the server's requests-per-minute cap")
    parser.add_argument("--rpm-seconds", type=float, default=40, help="length of the rate-limit workload")
    parser.add_argument("--warmup", type=float, default=5, help="seconds left out of the steady-state RPM")
    args = parser.parse_args(argv)
    n_rpm = int(args.rpm / 60 * args.rpm_seconds)

    ours_tp = measure("ours throughput", lambda url: run_ours(url, args.n, None), args.n, None, 0)
    base_tp = measure("naive throughput", lambda url: run_naive(url, args.baseline_n), args.baseline_n, None, 0)
    ours_rl = measure("ours rpm-capped", lambda url: run_ours(url, n_rpm, args.rpm), n_rpm, args.rpm, args.warmup)
    base_rl = measure("naive rpm-capped", lambda url: run_naive(url, n_rpm), n_rpm, args.rpm, args.warmup)
    result = {
        "throughput_ratio": ours_tp["throughput_ratio"],
        "throughput_ratio_whole_run": ours_tp["throughput_ratio_whole_run"], "rpm_ratio": ours_rl["rpm_ratio"],
        "rate_limited_share": ours_rl["rate_limited_share"],
        "baseline_throughput_ratio": base_tp["throughput_ratio"], "baseline_rpm_ratio": base_rl["rpm_ratio"],
        "baseline_rate_limited_share": base_rl["rate_limited_share"],
        "speedup_vs_baseline": round(ours_tp["rps"] / base_tp["rps"], 2),
        "ours": {"throughput": ours_tp, "rate_limit": ours_rl},
        "baseline": {"throughput": base_tp, "rate_limit": base_rl},
        "settings": {"n": args.n, "baseline_n": args.baseline_n, "concurrency": CONCURRENCY, "latency_s": LATENCY, "rpm_cap": args.rpm,
                     "rpm_requests": n_rpm, "warmup_s": args.warmup},
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
