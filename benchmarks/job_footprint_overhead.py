"""Benchmark: what a heavy job pays for tracking its own footprint (llm_footprint.job_footprint).

A job-like piece of work (token perplexity of the demo model over the demo's wikitext text,
repeated to the chosen length) is run plain and inside ``tracked_job`` at the study's default
sampling (10 s), alternating rounds in one process so that drift hits both sides alike. Prints
each side's wall time, the tracked job's overhead in % of its plain wall time (goal: <= 2 %),
and the tracker's fixed cost (start, stop, record): a one-window perplexity job tracked minus
the same job plain.

    .venv/bin/python benchmarks/job_footprint_overhead.py [--rounds 3] [--repeats 3]
                                                          [--sampling-s 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

from demo_model import load_demo_model  # noqa: E402
from llm_footprint.job_footprint import tracked_job  # noqa: E402
from llm_footprint.quality.perplexity import token_perplexity  # noqa: E402

TEXT = REPO / "data" / "demo" / "quality" / "wikitext_style.txt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3,
                        help="perplexity passes per job (sets the job's length)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sampling-s", type=float, default=10.0)
    args = parser.parse_args()

    model, tokenizer = load_demo_model(args.model_dir, args.threads)
    text = TEXT.read_text(encoding="utf-8")

    def job() -> None:
        for _ in range(args.repeats):
            token_perplexity(model, tokenizer, text, 1024)

    def short() -> None:
        token_perplexity(model, tokenizer, text, 1024, max_windows=1)

    footprint = {"enabled": True, "measure_power_secs": args.sampling_s,
                 "ram_correction_factor": 1.0,
                 "tracker": {"country_iso_code": "BEL", "tracking_mode": "process"}}
    job()  # warm-up
    plain, tracked, fixed = [], [], []
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(args.rounds):
            started = time.perf_counter()
            job()
            plain.append(time.perf_counter() - started)
            started = time.perf_counter()
            with tracked_job(Path(scratch) / f"job{round_}.json", "evaluate", {}, footprint,
                             "cpu"):
                job()
            tracked.append(time.perf_counter() - started)
            # the fixed cost: a one-window job tracked minus the same job plain (an empty job
            # is refused: CodeCarbon measures no energy for it)
            started = time.perf_counter()
            short()
            short_plain = time.perf_counter() - started
            started = time.perf_counter()
            with tracked_job(Path(scratch) / f"short{round_}.json", "evaluate", {}, footprint,
                             "cpu"):
                short()
            fixed.append(time.perf_counter() - started - short_plain)
            print(f"round {round_ + 1}/{args.rounds}: plain {plain[-1]:.2f} s, tracked "
                  f"{tracked[-1]:.2f} s; one-window job tracked minus plain {fixed[-1]:+.2f} s",
                  flush=True)
    plain_s, tracked_s = statistics.median(plain), statistics.median(tracked)
    overhead = (tracked_s - plain_s) / plain_s * 100
    print(f"\njob of {plain_s:.1f} s (median of {args.rounds}): tracked {tracked_s:.2f} s, "
          f"overhead {overhead:+.2f} % (goal <= 2 %)")
    print(f"tracker's fixed cost (start, stop, record; a one-window job tracked minus plain): "
          f"{statistics.median(fixed):.2f} s; at the goal of 2 % that is a job of at least "
          f"{statistics.median(fixed) / 0.02:.0f} s")


if __name__ == "__main__":
    main()
