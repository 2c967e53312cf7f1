"""Scenario saturated: a closed loop at each batch size, as fast as the hardware allows.

For every batch size of ``batch_sizes``, batches of the schedule's prompts (cycled) are
generated back to back for at least ``duration_s`` seconds under one tracked run, repeated as
energy.repeats says (per batch size), each prompt with exactly max_new_tokens new tokens. Per batch size: tokens/s, energy
per output token and latency per batch. The knee is the batch size beyond which energy per
token falls by less than ``knee_tolerance`` (a fraction) from one batch size to the next.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from typing import Any

from ..repeats import Precision, run_repeats
from ..stats import mean_ci95, percentile
from ..tracked_work import WorkMeter, WorkResult
from .workloads import make_batch_generate

HEADLINE = "hardware_energy_per_output_token_j"  # at each batch size


def closed_loop(generate, prompts: Sequence[str], batch_size: int, duration_s: float,
                seed: int):
    """Batches of ``batch_size`` prompts back to back for ``duration_s`` (at least one)."""
    def work() -> WorkResult:
        cycle = itertools.cycle(prompts)
        totals = {"tokens": 0, "input_tokens": 0, "sequences": 0, "batches": 0}
        latencies = []
        started = time.perf_counter()
        while totals["batches"] == 0 or time.perf_counter() - started < duration_s:
            batch = [next(cycle) for _ in range(batch_size)]
            batch_started = time.perf_counter()
            done = generate(batch, seed + totals["batches"])
            latencies.append(time.perf_counter() - batch_started)
            for name in ("tokens", "input_tokens", "sequences"):
                totals[name] += done[name]
            totals["batches"] += 1
        totals["batch_latency_p50_s"] = percentile(latencies, 50)
        totals["batch_latency_p90_s"] = percentile(latencies, 90)
        return totals

    return work


def knee(points: Sequence[dict[str, Any]], tolerance: float) -> int | None:
    """The batch size after which energy per token falls by less than ``tolerance``."""
    ordered = sorted(points, key=lambda p: p["batch_size"])
    for here, after in zip(ordered, ordered[1:]):
        gain = 1 - after["hardware_energy_per_output_token_j"] / here[
            "hardware_energy_per_output_token_j"]
        if gain < tolerance:
            return here["batch_size"]
    return ordered[-1]["batch_size"] if ordered else None


def run(meter: WorkMeter, loaded: Any, settings: dict[str, Any], context: dict[str, Any],
        label: str) -> dict[str, Any]:
    generate = make_batch_generate(loaded.model, loaded.tokenizer, context["generation"],
                                   context["device"], fixed_length=True)
    runs, points = [], []
    precision = Precision.of(settings, context["energy"])
    achieved: dict[str, Any] = {}
    for batch_size in settings["batch_sizes"]:
        work = closed_loop(generate, context["prompts"], batch_size, settings["duration_s"],
                           context["generation"]["seed"])
        for _ in range(settings["warmup_runs"]):
            generate(context["prompts"][:batch_size], 0)  # first calls at this shape
        series = f"batch{batch_size}"

        def measure_repeat(repeat: int, emissions_file: str, work=work, batch_size=batch_size,
                           series=series) -> dict[str, Any]:
            figures = meter.measure(work, f"{label}/saturated/{series}/{repeat}", emissions_file)
            return {"repeat": repeat, "batch_size": batch_size, **figures}

        per_size, achieved[series] = run_repeats(context["ledger"], series, precision, HEADLINE,
                                                 measure_repeat)
        runs.extend(per_size)
        point = {"batch_size": batch_size}
        for name in ("tokens_per_s", "hardware_energy_per_output_token_j",
                     "batch_latency_p50_s", "hardware_energy_dynamic_per_output_token_j"):
            values = [r[name] for r in per_size if r.get(name) is not None]
            stats = mean_ci95(values) if values else None
            point[name] = stats["mean"] if stats else None
            point[f"{name}_ci95_half_width"] = stats["ci95_half_width"] if stats else None
        points.append(point)
    return {"workload": {"batch_sizes": list(settings["batch_sizes"]),
                         "duration_s": settings["duration_s"],
                         "warmup_runs": settings["warmup_runs"],
                         "max_new_tokens": context["generation"]["max_new_tokens"]},
            "points": points, "knee_batch_size": knee(points, settings["knee_tolerance"]),
            "runs": runs, "precision": achieved}
