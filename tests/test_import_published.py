"""The import path: the thesis's published tables re-plotted by the workflow's own code.

Reproduces the thesis's Figure 42 emissions and the relative changes of its Tables 27-28 from
its published energies, and builds every figure and the HTML report.
"""

from __future__ import annotations

import csv

import pytest

from conftest import REPO, snakemake
from llm_footprint import imports

pytestmark = pytest.mark.e2e

OUT = "results/thesis-published"


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("published")
    snakemake(workdir, REPO / "configs" / "thesis-published.yaml")
    snakemake(workdir, REPO / "configs" / "thesis-published.yaml", "--report",
              f"{OUT}/report.html")
    return workdir


def _rows(workdir, table):
    with open(workdir / OUT / "tables" / table, newline="") as handle:
        return list(csv.DictReader(handle))


def test_figure_42_emissions_are_reproduced(published):
    grams = {(r["variant"], r["setup"], r["country"]): float(r["operational_gco2e"])
             for r in _rows(published, "carbon.csv") if r["model"] == "mistral-small-3"}
    # the thesis's text: full (Setup 1) in Germany ~597 g, France 60 g, Belgium 274 g;
    # compressed (Setup 2) in the Netherlands 304 g, Belgium 177 g
    assert grams[("full", "a100-80gb", "DEU")] == pytest.approx(597, abs=0.5)
    assert grams[("full", "a100-80gb", "FRA")] == pytest.approx(60, abs=0.5)
    assert grams[("full", "a100-80gb", "BEL")] == pytest.approx(274, abs=0.5)
    assert grams[("gptq-4bit", "a100-40gb", "NLD")] == pytest.approx(304, abs=0.5)
    assert grams[("gptq-4bit", "a100-40gb", "BEL")] == pytest.approx(177, abs=0.5)


def test_tables_27_and_28_relative_changes_are_reproduced(published):
    rows = {(r["model"], r["setup"]): r for r in _rows(published, "relative_change.csv")}
    setup1, setup2 = rows[("llama-7b", "a100-80gb")], rows[("llama-7b", "a100-40gb")]
    assert round(float(setup1["cpu_energy_change_pct"])) == 65
    assert round(float(setup1["gpu_energy_change_pct"])) == -18
    assert round(float(setup1["hardware_energy_change_pct"])) == 26
    assert round(float(setup2["hardware_energy_change_pct"])) == -28
    assert round(float(rows[("llama-30b", "a100-40gb")]["hardware_energy_change_pct"])) == -39


def test_feasibility_matches_the_thesis(published):
    fits = {(r["model"], r["variant"], r["setup"]): r["fits"]
            for r in _rows(published, "feasibility.csv")}
    assert fits[("llama-30b", "full", "a100-40gb")] == "False"
    assert fits[("mistral-small-3", "full", "a100-40gb")] == "False"
    assert fits[("llama-30b", "gptq-4bit", "a100-40gb")] == "True"
    assert sum(v == "False" for v in fits.values()) == 2


def test_tradeoff_without_published_times_keeps_opt_empty(published):
    row = next(r for r in _rows(published, "tradeoff.csv")
               if r["model"] == "llama-7b" and r["variant"] == "gptq-4bit" and r["setup"] == "a100-40gb")
    assert float(row["ec"]) == pytest.approx(1.0287 / 1.4334, rel=1e-3)
    assert float(row["pc_wikitext_word_perplexity"]) == pytest.approx(9.72 / 9.38)
    assert row["tc"] == "" and row["opt_balanced"] == ""


def test_every_figure_and_the_report_are_written(published):
    figures = published / OUT / "figures"
    names = {p.name for p in figures.iterdir()}
    models = ("llama-7b", "llama-30b", "mistral-7b-v0.3", "mistral-small-3")
    for stem in ("energy_components", "relative_change", "feasibility", "quality_vs_energy",
                 "opt_scores", *(f"carbon_bubbles_{m}" for m in models),
                 *(f"paper_change_{m}" for m in models)):
        assert {f"{stem}.png", f"{stem}.svg"} <= names, stem
        assert (figures / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (figures / f"{stem}.png").stat().st_size > 10_000
        assert b"<svg" in (figures / f"{stem}.svg").read_bytes()[:2000]
    report = (published / OUT / "report.html").read_text(encoding="utf-8", errors="replace")
    assert len(report) > 100_000 and "carbon_bubbles_mistral-small-3.png" in report


def test_measurement_file_errors_name_file_line_and_column(tmp_path):
    missing = tmp_path / "missing.csv"
    missing.write_text("model,variant,setup,cpu_energy_kwh\nm,v,s,1\n")
    with pytest.raises(imports.MeasurementFileError, match="missing columns"):
        imports.read_energy(missing)
    bad = tmp_path / "bad.csv"
    bad.write_text("model,variant,setup,cpu_energy_kwh,gpu_energy_kwh,ram_energy_kwh\n"
                   "m,v,s,1,2,3\nm,w,s,1,lots,3\n")
    with pytest.raises(imports.MeasurementFileError, match=r"bad.csv:3: column 'gpu_energy_kwh'"):
        imports.read_energy(bad)
