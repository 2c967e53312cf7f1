"""What a study asks of a SLURM cluster: per-job resources, sbatch lines, GPU-hours.

The rules take their SLURM partition and GPU request from the setup a job runs on (the
``{setup}`` wildcard's entry, or the study's default setup for compression and quality); the
runtime they request (``llm_footprint.plan``) is the job's expected time plus ``TIME_MARGIN``,
growing with the model's size and, on retries, with the attempt.

    python -m llm_footprint.cluster plan configs/thesis.yaml
    python -m llm_footprint.cluster sbatch configs/thesis.yaml
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"

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
EXCLUDED_LISTED = 20  # the plan lists excluded tuples one by one up to this many
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


def scenario_minutes(energy: dict[str, Any], scenario: str, model_params_b: float) -> float:
    """Expected minutes of one energy scenario job: the saturated loops are timed exactly; a
    fixed workload is estimated like an evaluation per repeat (its warm-up included)."""
    settings = energy["scenarios"][scenario]
    if scenario == "saturated":
        work = len(settings["batch_sizes"]) * settings["repeats"] * settings["duration_s"] / 60
    else:  # warm-up + repeats, each one pass over the workload
        base, per_billion = FIXED_WORKLOAD_MINUTES
        work = (settings["repeats"] + 1) * (base + per_billion * model_params_b)
    return work + energy["idle_window_s"] / 60 + ENERGY_OVERHEAD_MIN


def energy_minutes(energy: dict[str, Any]) -> float:
    window = energy["schedule"]["duration_s"] * energy["repeats"] / 60
    return window + energy["idle_window_s"] / 60 + ENERGY_OVERHEAD_MIN


def load(config_path: str | Path) -> Any:
    import yaml

    from .plan import Plan  # the plan builds on this module

    with open(config_path, encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    return Plan.from_config(config, SCHEMA, search_dirs=[Path.cwd(), SCHEMA.parents[2]])


def plan(config_path: str | Path) -> str:
    study_plan = load(config_path)
    jobs = study_plan.gpu_jobs()
    lines = [f"study {study_plan.study.name}: {len(jobs)} compute-node jobs, "
             f"{len(study_plan.tuples)} tuples run, {len(study_plan.left_out)} left out"]
    total_requested = total_windows = energy_requested = 0.0
    for rule in ("compress", "compress_step", "evaluate", "measure_energy", "measure_scenario"):
        selected = [j for j in jobs if j["rule"] == rule]
        if not selected and rule in ("compress_step", "measure_scenario"):
            continue
        requested = sum(j["minutes"] * j["gpus"] for j in selected) / 60
        total_requested += requested
        line = f"  {rule:16s} {len(selected):3d} jobs, {requested:8.1f} GPU-hours requested"
        if rule == "measure_energy":
            total_windows = sum(j["window_minutes"] * j["gpus"] for j in selected) / 60
            energy_requested = requested
            line += f" ({total_windows:.1f} GPU-hours of replay windows, exact)"
        lines.append(line)
    lines.append(f"  total            {len(jobs):3d} jobs, {total_requested:8.1f} GPU-hours "
                 f"requested (runtime limits: expected time + {TIME_MARGIN:.0%})")
    if total_windows:
        lines.append(f"  requested / measurement windows: {total_requested / total_windows:.2f}x "
                     f"in all, {energy_requested / total_windows:.2f}x for the replays")
    # excluded tuples can be many in a matrix study: past a screenful, counted per pattern
    excluded: dict[str, int] = {}
    for left in study_plan.left_out:
        if left.reason == "excluded":
            excluded[left.detail] = excluded.get(left.detail, 0) + 1
    if sum(excluded.values()) > EXCLUDED_LISTED:
        lines += [f"  left out (excluded): {count} tuples: {detail}"
                  for detail, count in excluded.items()]
    for left in study_plan.left_out:
        if left.reason != "excluded" or sum(excluded.values()) <= EXCLUDED_LISTED:
            lines.append(f"  left out ({left.reason}): {'/'.join(left.tuple)}: {left.detail}")
    return "\n".join(lines)


class _Resources(dict):
    """The attribute and mapping access the SLURM plugin uses on a job's resources."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def sbatch_line(job: dict[str, Any], setup: dict[str, Any], account: str | None = None) -> str:
    """The sbatch call snakemake-executor-plugin-slurm makes for ``job`` (its own code), up to
    the wrapped Snakemake command."""
    from snakemake_executor_plugin_slurm.submit_string import get_submit_command
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    resources = _Resources(slurm_resources(setup), runtime=job["minutes"],
                           mem_mb=int(setup["mem_gb"] * 1024))
    fake_job = SimpleNamespace(resources=resources, threads=setup["cpus"], is_group=lambda: False,
                               name=job["rule"])
    params = {"run_uuid": f"{job['rule']}-{job['model']}-{job['variant']}-{job['setup']}",
              "slurm_logfile": f"logs/slurm/{job['rule']}/%j.log",
              "comment_str": f"rule_{job['rule']}_wildcards_{job['model']}_{job['variant']}",
              "account": f"-A {account}" if account else "",
              "partition": f"-p {resources['slurm_partition']}" if resources["slurm_partition"] else "",
              "workdir": None}
    return get_submit_command(fake_job, params) + set_gres_string(fake_job)


def sbatch_preview(config_path: str | Path, account: str | None = None) -> str:
    """One sbatch line per GPU rule and setup, as the plugin would submit it."""
    study_plan = load(config_path)
    seen = set()
    lines = []
    for job in study_plan.gpu_jobs():
        key = (job["rule"], job["setup"])
        if key in seen:
            continue
        seen.add(key)
        lines.append(f"# {job['rule']} on {job['setup']} ({job['model']}/{job['variant']})")
        lines.append(sbatch_line(job, study_plan.study.setup(job["setup"]), account))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m llm_footprint.cluster",
                                     description="What a study asks of a SLURM cluster.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("plan", "jobs and GPU-hours"), ("sbatch", "sbatch line per GPU rule and setup")):
        command = sub.add_parser(name, help=text)
        command.add_argument("config", help="study config, e.g. configs/thesis.yaml")
        if name == "sbatch":
            command.add_argument("--account", help="SLURM account to show in the lines")
    args = parser.parse_args(argv)
    if args.command == "plan":
        print(plan(args.config))
    else:
        print(sbatch_preview(args.config, args.account))


if __name__ == "__main__":
    sys.exit(main())
