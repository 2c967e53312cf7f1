"""What a study's jobs ask of a SLURM cluster, estimated from the config alone: partition and
GPU request, expected minutes and the runtime requested, and the cluster's partitions.

Pure arithmetic on config sections (``sinfo`` aside, in ``cluster_partitions``): the plan
(``llm_footprint.plan``) builds its jobs' resources on it, and the command line
(``llm_footprint.cluster``) builds on the plan.
"""

from __future__ import annotations

import math
from typing import Any

# Time requests: the expected duration of a job plus TIME_MARGIN, times the attempt (a job that
# hits its limit is retried with twice, then three times as much: profiles/slurm retries: 2).
# Expected minutes on one A100: compression comes from its method (GPTQ with a few hundred
# calibration texts: 5 + 1.5 per billion parameters); lm-eval's thesis tasks (WikiText-2, MMLU,
# IFEval) 10 + 2 per billion; an energy run is its replay windows (exact: the schedule is
# timed) plus the idle baseline and ENERGY_OVERHEAD_MIN for loading, warm-up and CodeCarbon.
TIME_MARGIN = 0.05
EVALUATE_MINUTES = (10.0, 2.0)
ENERGY_OVERHEAD_MIN = 10.0
# one pass of a fixed workload (perplexity over WikiText-2's test text, about 300k tokens, or
# the schedule's prompts) on one A100: 0.5 min + 0.1 min per billion parameters
FIXED_WORKLOAD_MINUTES = (0.5, 0.1)
DEFAULT_PARAMS_B = 7.0  # size assumed for runtime requests when nothing better is known


def slurm_resources(setup: dict[str, Any]) -> dict[str, Any]:
    """Partition and GPU request of a job on ``setup`` (executor-plugin resource names)."""
    cuda = setup["device"] == "cuda"
    return {
        "slurm_partition": setup.get("partition") or "",
        "gpu": 1 if cuda else 0,
        "gpu_model": (setup.get("gpu_model") or "") if cuda else "",
    }


def cluster_partitions(timeout_s: float = 10) -> set[str] | None:
    """Partitions of the SLURM cluster this machine belongs to; None without a reachable one."""
    import shutil
    import subprocess

    if shutil.which("sinfo") is None:
        return None
    try:
        result = subprocess.run(["sinfo", "--noheader", "--format=%R"], capture_output=True,
                                text=True, timeout=timeout_s)
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    return {line.strip() for line in result.stdout.splitlines() if line.strip()}


def check_partitions(setups: dict[str, dict[str, Any]], partitions: set[str] | None) -> None:
    """Refuse a setup whose partition this cluster does not have, before anything is submitted."""
    from .schema import ConfigError

    if partitions is None:
        return
    for setup_id, setup in setups.items():
        partition = setup.get("partition")
        if partition and partition not in partitions:
            raise ConfigError(f"setups.{setup_id}.partition",
                              f"{partition!r} is not a partition of this SLURM cluster "
                              f"(partitions: {', '.join(sorted(partitions))})")


def params_b(model: dict[str, Any], prepared_parameter_count: float | None = None) -> float:
    if prepared_parameter_count:
        return prepared_parameter_count / 1e9
    return model.get("params_b") or DEFAULT_PARAMS_B


def requested_minutes(expected_minutes: float, attempt: int = 1) -> int:
    return int(math.ceil(expected_minutes * (1 + TIME_MARGIN) * attempt))


def evaluate_minutes(model_params_b: float) -> float:
    base, per_billion = EVALUATE_MINUTES
    return base + per_billion * model_params_b


def repeat_work_minutes(precision: Any, repeat_minutes: float, case: str) -> float:
    """Minutes of one series of repeats: ``expected`` runs min_repeats (a precision target met
    as soon as it can be), ``worst`` max_repeats, or max_minutes plus the repeat running then."""
    if case == "expected":
        return precision.min_repeats * repeat_minutes
    worst = precision.max_repeats * repeat_minutes
    if precision.max_minutes is not None:
        worst = min(worst, precision.max_minutes + repeat_minutes)
    return worst


def scenario_minutes(energy: dict[str, Any], scenario: str, model_params_b: float,
                     case: str = "worst") -> float:
    """Minutes one energy scenario adds to its tuple's measuring job, which has loaded the
    model and idled already (``case``: expected or worst, see repeat_work_minutes): the
    saturated loops are timed exactly, per batch size; a fixed workload is estimated like an
    evaluation per run (its warm-up runs included)."""
    from .energy.repeats import Precision

    settings = energy["scenarios"][scenario]
    precision = Precision.of(settings, energy)
    if scenario == "saturated":
        return len(settings["batch_sizes"]) * repeat_work_minutes(
            precision, settings["duration_s"] / 60, case)
    base, per_billion = FIXED_WORKLOAD_MINUTES  # warm-ups + repeats, each one workload pass
    one_pass = base + per_billion * model_params_b
    return (settings["warmup_runs"] * one_pass
            + repeat_work_minutes(precision, one_pass, case))


def replay_window_minutes(energy: dict[str, Any], case: str = "worst") -> float:
    """Minutes of replay windows of one tuple (exact per window: the schedule is timed)."""
    from .energy.repeats import Precision

    return repeat_work_minutes(Precision.of(energy), energy["schedule"]["duration_s"] / 60, case)


def idle_minutes(energy: dict[str, Any], case: str = "worst") -> float:
    """Minutes of the idle window: all of idle_window_s, or with energy.idle_precision its
    min_slices when the target is met as soon as it can be (``expected``)."""
    gate = energy.get("idle_precision")
    if case == "expected" and gate and energy["idle_window_s"] > 0:
        return min(energy["idle_window_s"], gate["min_slices"] * gate["slice_s"]) / 60
    return energy["idle_window_s"] / 60


def energy_minutes(energy: dict[str, Any], case: str = "worst") -> float:
    """Minutes of a replay on its own: model load and warm-up, the idle window, the windows."""
    return replay_window_minutes(energy, case) + idle_minutes(energy, case) + ENERGY_OVERHEAD_MIN


def measurement_minutes(energy: dict[str, Any], scenarios: list[str], model_params_b: float,
                        case: str = "worst") -> float:
    """Minutes of a tuple's one measuring job: one load and idle window, the replay, then each
    scenario on the loaded model."""
    return energy_minutes(energy, case) + sum(
        scenario_minutes(energy, name, model_params_b, case) for name in scenarios)
