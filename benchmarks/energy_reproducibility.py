"""Benchmark: does a fresh job reproduce a tuple's replay figure within its own interval?

The demo model at full precision and its round-to-nearest 4-bit baseline (config.yaml's
rtn-4bit: compressed here in seconds), each measured with the demo's replay settings
(config.yaml: warm-up, idle window, precision target) in a fresh process per job, the two
alternately, ``--rounds`` times. Prints every job's energy per output token with its own 95 %
half-width and repeats; then, per variant, the spread of the job means (sample standard
deviation, in % of their mean) beside the median within-job half-width; and the two variants'
ratio in each round.

What it tells: the repeats' intervals are computed within one job. A spread of job means
inside the jobs' half-widths says that, on this host, figures measured in jobs minutes apart
can be compared on those intervals (the p-values of summary.csv and the recommendation); a
larger spread says the host drifts between jobs by that much, and differences of that size
between variants are not resolved, whatever their p-values.

    .venv/bin/python benchmarks/energy_reproducibility.py [--model-dir DIR] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from demo_model import demo_model_dir  # noqa: E402
from llm_footprint import compression  # noqa: E402
from llm_footprint.energy.schedule import write_schedule  # noqa: E402
from llm_footprint.plan import Plan  # noqa: E402

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
MODEL, SETUP = "smollm2-135m", "laptop-cpu"
VARIANTS = ("full", "rtn-4bit")
HEADLINE = "hardware_energy_per_output_token_j"


def demo_plan() -> Plan:
    config = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    return Plan.from_config(config, SCHEMA, search_dirs=[REPO])


def one_job(variant: str, checkpoint: str, schedule: str, out: str) -> None:
    """The replay of one tuple, as its measuring job runs it, in this (fresh) process."""
    from llm_footprint.energy.measure import measure_energy

    plan = demo_plan()
    setup = dict(plan.study.setup(SETUP))
    measure_energy(MODEL, variant, SETUP, checkpoint, schedule, plan.replay_params, setup, out,
                   threads=setup["cpus"])


def run_job(variant: str, checkpoint: Path, schedule: Path, out: Path) -> dict:
    subprocess.run([sys.executable, __file__, "--job", variant, str(checkpoint), str(schedule),
                    str(out)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    figure = summary["aggregate"][HEADLINE]
    return {"mean": figure["mean"], "half_width_pct": 100 * figure["ci95_half_width"]
            / figure["mean"], "repeats": figure["n"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--job", nargs=4, metavar=("VARIANT", "CHECKPOINT", "SCHEDULE", "OUT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.job:
        one_job(*args.job)
        return
    if args.rounds < 2:
        parser.error("--rounds must be at least 2: a spread needs two jobs per variant")

    plan = demo_plan()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        prepared = demo_model_dir(args.model_dir)
        checkpoints = {}
        for variant in VARIANTS:
            checkpoints[variant] = scratch / variant
            compression.compress(MODEL, variant, plan.study.variant(variant), prepared,
                                 checkpoints[variant], threads=2)
        schedule = scratch / "schedule.json"
        write_schedule(plan.schedule_params, schedule)
        print(f"{'round':>5s} {'variant':10s} {'J/token':>8s} {'half-width':>10s} {'repeats':>7s}")
        jobs: dict[str, list[dict]] = {v: [] for v in VARIANTS}
        for round_ in range(1, args.rounds + 1):
            for variant in VARIANTS:  # alternately: a drift shows in both
                job = run_job(variant, checkpoints[variant], schedule,
                              scratch / f"{variant}-{round_}")
                jobs[variant].append(job)
                print(f"{round_:5d} {variant:10s} {job['mean']:8.4f} "
                      f"{job['half_width_pct']:9.2f}% {job['repeats']:7d}", flush=True)
        for variant, runs in jobs.items():
            means = [r["mean"] for r in runs]
            spread = 100 * statistics.stdev(means) / statistics.mean(means)
            width = statistics.median(r["half_width_pct"] for r in runs)
            print(f"{variant}: {len(runs)} jobs, mean {statistics.mean(means):.4f} J/token, "
                  f"between-job SD {spread:.2f} % of it; median within-job 95 % half-width "
                  f"{width:.2f} %")
        ratios = [f"{100 * (a['mean'] / b['mean'] - 1):+.2f} %"
                  for a, b in zip(jobs[VARIANTS[1]], jobs[VARIANTS[0]])]
        print(f"{VARIANTS[1]} against {VARIANTS[0]}, per round: {', '.join(ratios)}")


if __name__ == "__main__":
    main()
