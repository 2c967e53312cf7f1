"""Benchmark: fixed repeats against repeats stopped on precision (llm_footprint.energy.repeats).

On the demo model (full precision, the demo's energy settings), each scenario is measured
twice in one run, side by side: with the demo's former fixed counts (replay 3 windows, fixed
workload 5 runs, saturated 1 run per batch size) and with the demo's precision targets
(config.yaml: energy.precision and each scenario's own). Prints, per scenario and side, the
measurement's wall time (s), the repeats run and the achieved relative 95 % half-width of the
headline figure, and the target met or not. Then the three measurements once more, as the
workflow runs them: one tuple job (llm_footprint.energy.tuple_job: one model load, one warm-up
and one idle window) against the sum of the three measured one job each just before.

    .venv/bin/python benchmarks/repeats_precision.py [--model-dir DIR] [--threads 2]
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from demo_model import demo_model_dir  # noqa: E402
from llm_footprint import compression  # noqa: E402
from llm_footprint.energy.measure import measure_energy  # noqa: E402
from llm_footprint.energy.scenarios import measure_scenario  # noqa: E402
from llm_footprint.energy.schedule import write_schedule  # noqa: E402
from llm_footprint.energy.tuple_job import measure_tuple  # noqa: E402
from llm_footprint.plan import Plan  # noqa: E402

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
FIXED = {"timed_replay": 3, "fixed_workload": 5, "saturated": 1}  # the demo's former counts


def fixed_counts(config: dict) -> dict:
    fixed = copy.deepcopy(config)
    fixed["energy"].update(precision=None, repeats=FIXED["timed_replay"])
    for name, scenario in fixed["energy"]["scenarios"].items():
        scenario.update(precision=None, repeats=FIXED[name])
    return fixed


def measure(plan: Plan, name: str, checkpoint: Path, schedule: Path, out: Path) -> dict:
    setup = dict(plan.study.setup(plan.study.default_setup))
    started = time.monotonic()
    if name == "timed_replay":
        summary = measure_energy("smollm2-135m", "full", "cpu", checkpoint, schedule,
                                 plan.replay_params, setup, out, threads=setup["cpus"])
        series = {"replay": summary["precision"]}
    else:
        params = plan.scenario_params(name)
        summary = measure_scenario(name, "smollm2-135m", "full", "cpu", checkpoint, schedule,
                                   params["energy"], params["quality"], setup, out,
                                   threads=setup["cpus"])
        series = summary["precision"]
    return {"wall_s": time.monotonic() - started, "series": series}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir")
    args = parser.parse_args()

    config = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    plans = {"fixed": Plan.from_config(fixed_counts(config), SCHEMA, search_dirs=[REPO]),
             "precision": Plan.from_config(copy.deepcopy(config), SCHEMA, search_dirs=[REPO])}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        checkpoint = scratch / "full"
        compression.compress("smollm2-135m", "full", {"method": "none", "dtype": "float32"},
                             demo_model_dir(args.model_dir), checkpoint, threads=2)
        schedule = scratch / "schedule.json"
        write_schedule(plans["precision"].schedule_params, schedule)
        print(f"{'scenario':15s} {'side':10s} {'wall s':>7s} {'series':>8s} {'repeats':>7s} "
              f"{'half-width':>10s} {'target':>7s} met")
        separate_s = 0.0
        for name in ("timed_replay", "fixed_workload", "saturated"):
            for side, plan in plans.items():  # side by side, one after the other
                result = measure(plan, name, checkpoint, schedule, scratch / f"{name}-{side}")
                if side == "precision":
                    separate_s += result["wall_s"]
                for index, (series, achieved) in enumerate(result["series"].items()):
                    width = achieved["ci95_rel_half_width"]
                    target = achieved["target"]
                    wall = f"{result['wall_s']:.1f}" if index == 0 else ""
                    print(f"{name:15s} {side:10s} {wall:>7s} "
                          f"{series:>8s} {achieved['repeats']:7d} "
                          f"{'n/a' if width is None else f'{width:.2%}':>10s} "
                          f"{'-' if target is None else f'{target:.0%}':>7s} "
                          f"{'-' if achieved['target_met'] is None else achieved['target_met']}",
                          flush=True)
        plan = plans["precision"]
        setup = dict(plan.study.setup(plan.study.default_setup))
        params = plan.measurement_params(plan.scenarios)
        started = time.monotonic()
        measure_tuple("smollm2-135m", "full", "cpu", checkpoint, schedule, params["energy"],
                      setup, scratch / "tuple" / "energy",
                      scenario_dirs={n: scratch / "tuple" / n for n in plan.scenarios},
                      quality=params["quality"], threads=setup["cpus"])
        shared_s = time.monotonic() - started
        print(f"one tuple job (replay + {len(plan.scenarios)} scenarios, one load and idle "
              f"window): {shared_s:.1f} s; one job each: {separate_s:.1f} s "
              f"(ratio {shared_s / separate_s:.2f})", flush=True)


if __name__ == "__main__":
    main()
