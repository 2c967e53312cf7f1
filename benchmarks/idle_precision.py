"""Benchmark: an unbroken idle window against one stopped on its own precision.

With the demo's energy settings (config.yaml: idle_window_s, idle_precision, tracker), the
idle window is measured alternately, in one run: as one unbroken window of idle_window_s, and
in slices until the idle power's 95 % interval is within its target (energy.idle_precision).
Prints, per round and side, the wall time (s), the measured idle time (s), the idle power (W,
RAM corrected) and, for the sliced side, the slices and the achieved relative half-width; then
the medians and the sliced/unbroken ratios of wall time and of idle power (the two must agree:
slicing may only save time).

    .venv/bin/python benchmarks/idle_precision.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from llm_footprint.energy.measure import ledger_idle  # noqa: E402
from llm_footprint.energy.repeats import RepeatLedger  # noqa: E402
from llm_footprint.energy.summary import idle_power_w  # noqa: E402
from llm_footprint.plan import Plan  # noqa: E402

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def one_idle(energy: dict, folder: Path) -> tuple[float, dict]:
    started = time.monotonic()
    idle = ledger_idle(RepeatLedger(folder, {"benchmark": str(folder)}), energy)
    return time.monotonic() - started, idle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    config = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    energy = Plan.from_config(config, SCHEMA, search_dirs=[REPO]).replay_params
    if not energy.get("idle_precision"):
        raise SystemExit("config.yaml sets no energy.idle_precision to compare against")
    factor = energy["tracker"]["ram_correction_factor"]
    sides = {"unbroken": {**energy, "idle_precision": None}, "sliced": energy}
    results: dict[str, list[tuple[float, float]]] = {side: [] for side in sides}
    print(f"idle_window_s {energy['idle_window_s']:g}, idle_precision {energy['idle_precision']}")
    print(f"{'round':>5s} {'side':9s} {'wall s':>7s} {'idle s':>7s} {'power W':>8s} "
          f"{'slices':>6s} {'half-width':>10s}")
    with tempfile.TemporaryDirectory() as scratch:
        for round_number in range(1, args.rounds + 1):
            for side, section in sides.items():
                wall, idle = one_idle(section, Path(scratch) / f"{side}-{round_number}")
                power = idle_power_w(idle, factor)
                results[side].append((wall, power))
                achieved = idle.get("precision") or {}
                width = achieved.get("ci95_rel_half_width")
                print(f"{round_number:5d} {side:9s} {wall:7.2f} {idle['duration_s']:7.2f} "
                      f"{power:8.3f} {len(idle.get('slices') or []) or '-':>6} "
                      f"{'-' if width is None else f'{width:.2%}':>10s}")
    wall = {side: statistics.median(w for w, _ in rows) for side, rows in results.items()}
    power = {side: statistics.median(p for _, p in rows) for side, rows in results.items()}
    print(f"medians: unbroken {wall['unbroken']:.2f} s, {power['unbroken']:.3f} W; sliced "
          f"{wall['sliced']:.2f} s, {power['sliced']:.3f} W")
    print(f"sliced / unbroken: wall time {wall['sliced'] / wall['unbroken']:.2f}x, idle power "
          f"{power['sliced'] / power['unbroken']:.3f}x")


if __name__ == "__main__":
    main()
