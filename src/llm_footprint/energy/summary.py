"""Energy figures of a run, the checks that make them trustworthy, and their mean over repeats.

Energies are kWh as CodeCarbon reports them; hardware energy follows the thesis:
CPU + GPU + RAM x ram_correction_factor.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .stats import mean_ci95, percentile

J_PER_KWH = 3.6e6


class MeasurementError(RuntimeError):
    """A run whose figures cannot be trusted; no summary is written for it."""


def component_figures(tracked: dict[str, Any], ram_correction_factor: float) -> dict[str, Any]:
    """Energy (kWh) and mean power (W) per component of one tracked run, as CodeCarbon reported
    them, with hardware energy = CPU + GPU + RAM x ram_correction_factor."""
    cpu_kwh = float(tracked["cpu_energy"])
    gpu_kwh = float(tracked["gpu_energy"])
    ram_kwh = float(tracked["ram_energy"])
    duration_s = float(tracked["duration"])
    ram_corrected_kwh = ram_kwh * ram_correction_factor
    hardware_kwh = cpu_kwh + gpu_kwh + ram_corrected_kwh
    return {
        "duration_s": duration_s,
        "cpu_energy_kwh": cpu_kwh,
        "gpu_energy_kwh": gpu_kwh,
        "ram_energy_kwh": ram_kwh,
        "total_energy_kwh_reported": float(tracked["energy_consumed"]),
        "ram_correction_factor": ram_correction_factor,
        "ram_energy_corrected_kwh": ram_corrected_kwh,
        "hardware_energy_kwh": hardware_kwh,
        "cpu_power_w_mean": cpu_kwh * J_PER_KWH / duration_s if duration_s else None,
        "gpu_power_w_mean": gpu_kwh * J_PER_KWH / duration_s if duration_s else None,
        "ram_power_w_mean": ram_corrected_kwh * J_PER_KWH / duration_s if duration_s else None,
    }


def run_figures(tracked: dict[str, Any], requests: Sequence[dict[str, Any]],
                ram_correction_factor: float) -> dict[str, Any]:
    """Per-run figures from CodeCarbon's final data and the served requests."""
    figures = component_figures(tracked, ram_correction_factor)
    hardware_kwh = figures["hardware_energy_kwh"]
    output_tokens = sum(r["output_tokens"] for r in requests)
    latencies = [r["latency_s"] for r in requests]
    lags = [r["lag_s"] for r in requests]
    figures.update({
        "requests_served": len(requests),
        "busy_time_s": sum(latencies),
        "input_tokens": sum(r["input_tokens"] for r in requests),
        "output_tokens": output_tokens,
        "hardware_energy_per_request_wh": hardware_kwh * 1000 / len(requests) if requests else None,
        "hardware_energy_per_output_token_j": (hardware_kwh * J_PER_KWH / output_tokens
                                               if output_tokens else None),
        "latency_p50_s": percentile(latencies, 50) if latencies else None,
        "latency_p90_s": percentile(latencies, 90) if latencies else None,
        "latency_p99_s": percentile(latencies, 99) if latencies else None,
        "lag_mean_s": sum(lags) / len(lags) if lags else None,
        "lag_max_s": max(lags) if lags else None,
    })
    return figures


def idle_power_w(idle: dict[str, Any], ram_correction_factor: float) -> float:
    """Hardware power of the idle window (W), RAM corrected as in the hardware energy."""
    return (idle["cpu_power_w"] + idle["gpu_power_w"]
            + idle["ram_power_w"] * ram_correction_factor)


def add_dynamic_energy(figures: dict[str, Any], idle_power: float) -> dict[str, Any]:
    """Idle-equivalent, dynamic and dynamic-per-output-token energy of a run, in place.

    idle-equivalent = idle power (W) x the run's duration (s) / 3.6e6 (kWh); dynamic = hardware
    energy - idle-equivalent (kWh, negative when the run drew less than the idle window);
    per output token = dynamic x 3.6e6 / output tokens (J).
    """
    idle_kwh = idle_power * figures["duration_s"] / J_PER_KWH
    dynamic_kwh = figures["hardware_energy_kwh"] - idle_kwh
    tokens = figures.get("output_tokens")
    figures["idle_power_w"] = idle_power
    figures["hardware_energy_idle_kwh"] = idle_kwh
    figures["hardware_energy_dynamic_kwh"] = dynamic_kwh
    figures["hardware_energy_dynamic_per_output_token_j"] = (dynamic_kwh * J_PER_KWH / tokens
                                                             if tokens else None)
    return figures


def energy_problems(figures: dict[str, Any], device: str) -> list[str]:
    """What makes a run's energy and duration untrustworthy: missing, NaN, infinite, negative
    or zero figures (every scenario applies these)."""
    problems = []
    # NaN compares false with everything, so each figure is first checked to be a real number
    for name in ("cpu_energy_kwh", "gpu_energy_kwh", "ram_energy_kwh", "ram_energy_corrected_kwh",
                 "hardware_energy_kwh", "total_energy_kwh_reported", "duration_s"):
        value = figures.get(name)
        required = name in ("cpu_energy_kwh", "ram_energy_kwh", "hardware_energy_kwh",
                            "duration_s") or (name == "gpu_energy_kwh" and device == "cuda")
        if value is None and not required:
            continue
        if not _is_number(value):
            problems.append(f"{name} is {value!r}, not a finite number")
        elif value < 0:
            problems.append(f"{name} is negative ({value!r})")
    for name in ("cpu_energy_kwh", "ram_energy_kwh", "hardware_energy_kwh"):
        if _is_number(figures[name]) and figures[name] == 0:
            problems.append(f"{name} is {figures[name]!r} (CodeCarbon measured nothing)")
    gpu_kwh = figures["gpu_energy_kwh"]
    if device == "cuda" and _is_number(gpu_kwh) and gpu_kwh <= 0:
        problems.append(f"gpu_energy_kwh is {gpu_kwh!r} on a cuda setup")
    if _is_number(figures["duration_s"]) and figures["duration_s"] == 0:
        problems.append("duration_s is 0.0 (the tracker measured no time)")
    return problems


def check_run(figures: dict[str, Any], scheduled: int, window_s: float, device: str,
              max_duration_deviation: float) -> None:
    """Refuse a run that came back empty, zero, truncated or too long."""
    problems = energy_problems(figures, device)
    if not _is_number(figures["duration_s"]) or figures["duration_s"] <= 0:
        raise MeasurementError("energy run rejected: " + "; ".join(problems))
    deviation = abs(figures["duration_s"] - window_s) / window_s
    if deviation > max_duration_deviation:
        problem = (f"measured duration {figures['duration_s']:.1f} s is {deviation:.1%} off "
                   f"the {window_s:g} s window (limit {max_duration_deviation:.0%})")
        lag = figures.get("lag_mean_s")
        if figures["duration_s"] > window_s and lag is not None and lag > 0.5:
            # requests queued behind each other: the schedule asks more than the model serves
            problem += (f"; requests waited {lag:.1f} s on average for the one before them, so "
                        f"the schedule offers more load than this model serves here: raise "
                        f"energy.schedule.mean_interval_s or lower "
                        f"energy.generation.max_new_tokens")
        problems.append(problem)
    if figures["requests_served"] != scheduled:
        problems.append(f"{figures['requests_served']} of {scheduled} scheduled requests served")
    if scheduled and not figures["output_tokens"]:
        problems.append("no output token was generated")
    if problems:
        raise MeasurementError("energy run rejected: " + "; ".join(problems))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


AGGREGATED = (
    "duration_s", "cpu_energy_kwh", "gpu_energy_kwh", "ram_energy_kwh",
    "ram_energy_corrected_kwh", "hardware_energy_kwh", "total_energy_kwh_reported",
    "cpu_power_w_mean", "gpu_power_w_mean", "ram_power_w_mean", "output_tokens",
    "hardware_energy_per_request_wh", "hardware_energy_per_output_token_j", "latency_p50_s",
    "latency_p90_s", "latency_p99_s", "lag_mean_s", "nvml_gpu_energy_kwh", "busy_time_s",
    "hardware_energy_idle_kwh", "hardware_energy_dynamic_kwh",
    "hardware_energy_dynamic_per_output_token_j",
    "foreign_cpu_core_s", "foreign_cpu_share",
    "ttft_p50_s", "ttft_p90_s", "itl_p50_s", "itl_p90_s",
    # scenarios measuring a piece of work rather than a window
    "wall_time_s", "tokens_per_s",
    # fixed_workload generate with split_prefill: the prefill-only run and the decode
    "prefill_wall_time_s", "prefill_hardware_energy_kwh",
    "prefill_hardware_energy_per_input_token_j", "decode_hardware_energy_kwh",
    "decode_hardware_energy_per_output_token_j", "decode_hardware_energy_dynamic_kwh",
    "decode_hardware_energy_dynamic_per_output_token_j", "decode_time_per_token_s",
)


def aggregate(runs: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Mean and 95 % Student-t interval of every figure over the repeats."""
    result = {}
    for name in AGGREGATED:
        values = [run[name] for run in runs if run.get(name) is not None]
        if values:
            result[name] = mean_ci95(values)
    return result
