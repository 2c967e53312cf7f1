"""The workflow as code: lint-clean, and every shipped study config dry-runs."""

from __future__ import annotations

import copy

import pytest
import yaml

from conftest import REPO, SCHEMA, demo_config, snakemake, write_config
from llm_footprint.plan import Plan

SHIPPED_CONFIGS = [REPO / "config.yaml", *sorted((REPO / "configs").glob("*.yaml"))]


def test_snakemake_lint_is_clean(tmp_path):
    result = snakemake(REPO, REPO / "config.yaml", "--lint", check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Congratulations, your workflow is in a good condition!" in output, output


def _jobs(result):
    counts = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return counts


@pytest.mark.parametrize("configfile", SHIPPED_CONFIGS, ids=lambda p: p.name)
def test_shipped_config_dry_runs_the_planned_jobs(tmp_path, configfile):
    """End to end, thinly: Snakemake schedules what the plan lists (tests/test_plan.py tests
    the plan itself)."""
    with open(configfile, encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    config["study"]["resources_root"] = str(tmp_path / "resources")
    plan = Plan.from_config(copy.deepcopy(config), SCHEMA, search_dirs=[REPO])
    counts = _jobs(snakemake(tmp_path, write_config(tmp_path, config), "--dry-run", "--quiet",
                             "rules"))
    expected = {"compress": len(plan.checkpoints), "evaluate": len(plan.evaluated),
                "measure_energy": len(plan.measured), "prepare_model": len(plan.models),
                "figure_carbon_bubbles": len(plan.study.reported_models()),
                "figure_paper_change": sum(s.startswith("paper_change_")
                                           for s in plan.figure_stems()),
                "figure_opt_scores": plan.figure_stems().count("opt_scores")}
    assert {rule: counts.get(rule, 0) for rule in expected} == expected, counts


def test_bad_config_stops_before_any_job_naming_the_key(tmp_path):
    config = demo_config()
    config["setups"]["laptop-cpu"]["device"] = "tpu"
    result = snakemake(tmp_path, write_config(tmp_path, config), "--dry-run", check=False)
    assert result.returncode != 0
    assert "config key 'setups.laptop-cpu.device'" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()
