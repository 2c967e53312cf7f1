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
