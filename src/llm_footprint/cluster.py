"""What a study asks of a SLURM cluster, on the command line: its jobs and GPU-hours, and the
sbatch lines the SLURM executor plugin would submit.

The rules take their SLURM partition and GPU request from the setup a job runs on (the
``{setup}`` wildcard's entry, or the study's default setup for compression and quality); the
runtime they request (``llm_footprint.plan``) is the job's expected time plus ``TIME_MARGIN``,
growing with the model's size and, on retries, with the attempt. The estimates themselves are
``llm_footprint.cluster_estimates``; this module reads them through the plan.

    python -m llm_footprint.cluster plan configs/thesis.yaml
    python -m llm_footprint.cluster sbatch configs/thesis.yaml
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from .cluster_estimates import TIME_MARGIN, slurm_resources
from .plan import Plan

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"

EXCLUDED_LISTED = 20  # the plan lists excluded tuples one by one up to this many


def load(config_path: str | Path) -> Plan:
    import yaml

    with open(config_path, encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    return Plan.from_config(config, SCHEMA, search_dirs=[Path.cwd(), SCHEMA.parents[2]])


def _per_tuple(jobs: list[dict[str, Any]], study_plan: Any) -> list[str]:
    """A tuple's measuring job, expected and worst case, and each of its measurements under its
    repeat rule."""
    energy = study_plan.config["energy"]
    lines = []
    # the scenarios' time depends on the model's size: one block per distinct job length
    shown: dict[tuple[float, int], list[str]] = {}
    for job in jobs:
        models = shown.setdefault((job["expected_minutes"], job["minutes"]), [])
        if job["model"] not in models:
            models.append(job["model"])
    for job in {(j["expected_minutes"], j["minutes"]): j for j in jobs}.values():
        lines.extend(_tuple_lines(job, shown[(job["expected_minutes"], job["minutes"])],
                                  energy, len(shown) > 1))
    return lines


def _tuple_lines(job: dict[str, Any], models: list[str], energy: dict[str, Any],
                 name_models: bool) -> list[str]:
    from .energy.repeats import Precision

    of = f" of {', '.join(models)}" if name_models else ""
    lines = [f"    per tuple{of}: one job, {job['expected_minutes'] / 60:.2f} h expected, "
             f"{job['minutes'] / 60:.2f} h requested at worst (one model load and idle window)"]
    for part in job["measurements"]:
        name = part["measurement"]
        precision = (Precision.of(energy) if name == "timed_replay"
                     else Precision.of(energy["scenarios"][name], energy))
        rule_text = (f"{precision.max_repeats} repeats" if precision.target is None else
                     f"target {precision.target:.1%} half-width, {precision.min_repeats}-"
                     f"{precision.max_repeats} repeats"
                     + (f", at most {precision.max_minutes:g} min" if precision.max_minutes
                        else ""))
        lines.append(f"      {name}: {part['expected'] / 60:.2f} h expected, "
                     f"{part['worst'] / 60:.2f} h at worst ({rule_text})")
    return lines


def _expected_hours(jobs: list[dict[str, Any]]) -> float:
    """GPU-hours the study takes when every precision target is met at min_repeats (the other
    jobs at their requested time)."""
    from .cluster_estimates import requested_minutes

    return sum((requested_minutes(j["expected_minutes"]) if j.get("expected_minutes") is not None
                else j["minutes"]) * j["gpus"] for j in jobs) / 60


def plan(config_path: str | Path) -> str:
    study_plan = load(config_path)
    jobs = study_plan.gpu_jobs()
    lines = [f"study {study_plan.study.name}: {len(jobs)} compute-node jobs, "
             f"{len(study_plan.tuples)} tuples run, {len(study_plan.left_out)} left out"]
    total_requested = total_windows = energy_requested = 0.0
    for rule in ("compress", "compress_step", "evaluate", "measure_energy"):
        selected = [j for j in jobs if j["rule"] == rule]
        if not selected and rule == "compress_step":
            continue
        requested = sum(j["minutes"] * j["gpus"] for j in selected) / 60
        total_requested += requested
        line = f"  {rule:16s} {len(selected):3d} jobs, {requested:8.1f} GPU-hours requested"
        if rule == "measure_energy":
            total_windows = sum(j["window_minutes"] * j["gpus"] for j in selected) / 60
            expected_windows = sum(j["expected_window_minutes"] * j["gpus"]
                                   for j in selected) / 60
            energy_requested = requested
            line += (f" ({total_windows:.1f} GPU-hours of replay windows at most, "
                     f"{expected_windows:.1f} expected)")
        lines.append(line)
        if rule == "measure_energy" and selected:
            lines.extend(_per_tuple(selected, study_plan))
    lines.append(f"  total            {len(jobs):3d} jobs, {total_requested:8.1f} GPU-hours "
                 f"requested (runtime limits: expected time + {TIME_MARGIN:.0%})")
    lines.append(f"  expected                  {_expected_hours(jobs):8.1f} GPU-hours (every "
                 f"precision target met at min_repeats; the requests above are the worst case)")
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
