"""The demo run's answers: the summary, recommendation and study-footprint tables, and the
report opened in a real browser (headless Chromium, Debian's package, installed by
tests/browser/chromium.sh where it can be).

Reads the session's shared demo run (conftest.demo_study_run)."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import REPO, SCHEMA, snakemake

pytestmark = pytest.mark.e2e

CHROMIUM = REPO / "tests" / "browser" / "chromium.sh"


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_summary_recommendation_and_footprint_tables(demo_study_run):
    workdir, _ = demo_study_run
    tables = workdir / "results" / "tables"
    summary = {r["variant"]: r for r in rows(tables / "summary.csv")}
    assert len(summary) == 6
    gptq = summary["gptq-4bit"]
    for column in ("size_on_disk_mb", "compression_ratio", "perplexity_token_perplexity",
                   "perplexity_token_perplexity_change_pct",
                   "perplexity_token_perplexity_significant",
                   "replay_energy_per_output_token_j", "replay_energy_per_output_token_significant",
                   "fixed_workload_energy_per_run_j", "saturated_energy_per_output_token_j",
                   "saturated_knee_batch_size", "gco2e_per_1000_output_tokens_FRA",
                   "latency_p50_s", "latency_p95_s", "opt_balanced", "compression_energy_kwh",
                   "breakeven_replay_output_tokens", "breakeven_replay_days"):
        assert gptq[column] not in ("", None), column
    # 4 bits cost this model perplexity, and the per-token standard errors say it is real
    assert float(gptq["perplexity_token_perplexity_change_pct"]) > 5
    assert gptq["perplexity_token_perplexity_significant"] == "yes"
    # token perplexity is tested pairwise (same tokens, block by block) for every variant: a
    # change of more than 5 % is real (head pruning's +13.8 % had p = 0.086 on the z-test)
    quality = [r for r in rows(tables / "quality.csv") if r["metric"] == "token_perplexity"]
    assert len(quality) == 6
    for row in quality:
        paired = row["variant"] != "full"
        assert (row["paired_p_value"] != "") == paired and (row["paired_blocks"] != "") == paired
        if paired and abs(float(row["relative_change_pct"])) > 5:
            assert float(row["paired_p_value"]) < 0.05, row["variant"]
            assert summary[row["variant"]]["perplexity_token_perplexity_significant"] == "yes"
    # the replay ran once in the tests: its changes cannot be tested, and say so
    assert gptq["replay_energy_per_output_token_significant"] == "n/a"
    assert float(gptq["compression_energy_kwh"]) > 0

    recommendation = rows(tables / "recommendation.csv")
    assert len(recommendation) == 6
    winners = [r for r in recommendation if r["winner"] == "True"]
    assert len(winners) <= 1
    for row in recommendation:
        assert (row["feasible"] == "True") == (row["breaks"] == "")
    assert summary["sparsegpt-2of4"]["perplexity_token_perplexity_change_pct"]
    sparse = next(r for r in recommendation if r["variant"] == "sparsegpt-2of4")
    assert sparse["feasible"] == "False" and "token_perplexity" in sparse["breaks"]

    footprint = {r["rule"]: r for r in rows(tables / "study_footprint.csv")}
    assert {"prepare_model", "compress", "evaluate", "measure_energy",
            "measure_energy (scenarios)", "total"} <= set(footprint)
    assert int(footprint["compress"]["jobs"]) == 6 and int(footprint["evaluate"]["jobs"]) == 6
    parts = sum(float(r["hardware_energy_kwh"]) for k, r in footprint.items() if k != "total")
    assert float(footprint["total"]["hardware_energy_kwh"]) == pytest.approx(parts)
    record = json.loads((workdir / "results/footprint/compress/smollm2-135m/gptq-4bit.json")
                        .read_text())
    assert record["tracked"] and record["hardware_energy_kwh"] > 0
    assert record["provenance"]["versions"]


@pytest.fixture(scope="module")
def chromium() -> str:
    result = subprocess.run(["bash", str(CHROMIUM)], capture_output=True, text=True,
                            timeout=900)
    if result.returncode != 0:
        pytest.skip(f"no headless Chromium: {result.stderr.strip()[-300:]}")
    return result.stdout.strip().splitlines()[-1]


def test_report_front_page_renders_in_chromium(demo_study_run, chromium, tmp_path):
    workdir, configfile = demo_study_run
    report = workdir / "results" / "report_in_browser.html"
    snakemake(workdir, configfile, "--report", str(report.relative_to(workdir)))
    dom = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=15000",
         "--dump-dom", report.as_uri()],
        capture_output=True, text=True, timeout=300)
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = dom.stdout
    for heading in ("Study summary", "Recommendation", "Break-even", "The study"):
        assert heading in page, heading
    assert "smollm2-135m / gptq-4bit @ laptop-cpu" in page
    # every figure the plan lists is in the report
    from llm_footprint.plan import Plan

    config = yaml.safe_load(configfile.read_text(encoding="utf-8"))
    plan = Plan.from_config(config, SCHEMA, search_dirs=[workdir, REPO])
    html = report.read_text(encoding="utf-8", errors="replace")
    for figure in plan.figure_files():
        if figure.endswith(".png"):
            assert Path(figure).name in html, figure
