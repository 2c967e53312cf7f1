"""The workflow as code: lint-clean, and every shipped study config dry-runs."""

from __future__ import annotations

import pytest
from conftest import REPO, demo_config, snakemake, write_config

SHIPPED_CONFIGS = [REPO / "config.yaml", *sorted((REPO / "configs").glob("*.yaml"))]


def test_snakemake_lint_is_clean(tmp_path):
    result = snakemake(REPO, REPO / "config.yaml", "--lint", check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Congratulations, your workflow is in a good condition!" in output, output


@pytest.mark.parametrize("configfile", SHIPPED_CONFIGS, ids=lambda p: p.name)
def test_shipped_config_dry_runs(tmp_path, configfile):
    result = snakemake(tmp_path, configfile, "--dry-run", "--quiet", "rules")
    assert "Job stats" in result.stdout or "job" in result.stdout.lower()


def test_bad_config_stops_before_any_job_naming_the_key(tmp_path):
    config = demo_config()
    config["setups"]["laptop-cpu"]["device"] = "tpu"
    result = snakemake(tmp_path, write_config(tmp_path, config), "--dry-run", check=False)
    assert result.returncode != 0
    assert "config key 'setups.laptop-cpu.device'" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def _jobs(result):
    counts = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return counts


@pytest.mark.parametrize("name,expected", [
    # 4 models x 2 variants; energy on 2 setups minus the two 16-bit models that do not fit 40 GB
    ("thesis.yaml", {"prepare_model": 4, "compress": 4, "reference_checkpoint": 4, "evaluate": 8,
                     "measure_energy": 14, "figure_carbon_bubbles": 4}),
    # 4 models x 3 variants on one setup
    ("paper.yaml", {"prepare_model": 4, "compress": 8, "reference_checkpoint": 4, "evaluate": 12,
                    "measure_energy": 12, "figure_carbon_bubbles": 4}),
    ("thesis-published.yaml", {"import_energy": 1, "import_quality": 1, "carbon": 1,
                               "figure_carbon_bubbles": 4}),
])
def test_study_configs_plan_the_expected_jobs(tmp_path, name, expected):
    counts = _jobs(snakemake(tmp_path, REPO / "configs" / name, "--dry-run", "--quiet", "rules"))
    for rule, count in expected.items():
        assert counts.get(rule) == count, (rule, counts)



def test_punkt_tables_are_built_only_for_ifeval(tmp_path):
    """A study without IFEval needs no NLTK data (a GPU node without the punkt package ran into
    this); the demo, which has IFEval, builds them once."""
    with_ifeval = _jobs(snakemake(tmp_path, REPO / "config.yaml", "--dry-run", "--quiet", "rules"))
    assert with_ifeval.get("punkt_tab") == 1, with_ifeval
    config = demo_config()
    config["quality"]["tasks"] = [t for t in config["quality"]["tasks"] if t["name"] != "ifeval"]
    without = _jobs(snakemake(tmp_path, write_config(tmp_path, config), "--dry-run", "--quiet",
                              "rules"))
    assert "punkt_tab" not in without and without.get("evaluate") == 3, without
