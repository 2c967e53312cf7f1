"""The companion paper's figures (Figures 2-5) on hand-made tables."""

from __future__ import annotations

import csv

import pytest

from llm_footprint import figures

RELATIVE = [
    {"model": "gpt2", "variant": v, "setup": "gpu", "baseline_model": "gpt2",
     "baseline_variant": "full", "baseline_setup": "gpu",
     "perplexity_token_perplexity_change_pct": ppl, "busy_time_change_pct": time,
     "hardware_energy_change_pct": energy, "ifeval_prompt_level_strict_acc_change_pct": -3.0}
    for v, ppl, time, energy in (("bnb-8bit", 0.31, 203.78, -56.28), ("bnb-nf4", 3.79, 4.86, -50.21),
                                 ("ah90", 34.01, -4.10, -4.67), ("ah80", 53.94, -6.99, ""))
] + [{"model": "distilgpt2", "variant": "full", "setup": "gpu", "baseline_model": "gpt2",
      "baseline_variant": "full", "baseline_setup": "gpu",
      "perplexity_token_perplexity_change_pct": 44.54, "busy_time_change_pct": -37.91,
      "hardware_energy_change_pct": -40.30, "ifeval_prompt_level_strict_acc_change_pct": ""}]

TRADEOFF = [
    {"model": m, "variant": v, "setup": "gpu", "pc_aggregate_pow1_5": 1.0, "tc": 1.0, "ec": 1.0,
     "opt_balanced": b, "opt_energy": e, "opt_runtime": r, "note": note}
    for m, v, b, e, r, note in (
        ("gpt2", "full", 1.0, 1.0, 1.0, ""), ("gpt2", "bnb-nf4", 0.83, 0.57, 1.1, ""),
        ("gpt2", "ah90", "", "", "", "perplexity/token_perplexity missing"),
        ("gpt2-large", "full", 1.0, 1.0, 1.0, ""), ("gpt2-large", "bnb-nf4", 0.7, 0.5, 0.9, ""))
]


def _write(path, rows):
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _check(png, svg):
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert b"<svg" in svg.read_bytes()[:2000]


PPL = {"task": "perplexity", "metric": "token_perplexity"}


def test_paper_change_per_model(tmp_path):
    table = _write(tmp_path / "relative_change.csv", RELATIVE)
    png, svg = tmp_path / "paper_change_gpt2.png", tmp_path / "paper_change_gpt2.svg"
    figures.paper_change(table, "gpt2", PPL, "busy_time_s", "hardware_energy_kwh", png, svg,
                         energy_note="CPU power fixed at 15 W")
    _check(png, svg)
    text = svg.read_text(encoding="utf-8")
    # the distilled student is drawn beside its teacher's variants; missing energy is marked
    assert "distilgpt2" in text and "no energy change" in text and "energy estimated" in text


def test_paper_change_other_metric_and_missing_column(tmp_path):
    table = _write(tmp_path / "relative_change.csv", RELATIVE)
    png, svg = tmp_path / "a.png", tmp_path / "a.svg"
    figures.paper_change(table, "gpt2", {"task": "ifeval", "metric": "prompt_level_strict_acc"},
                         "latency_p50_s", "hardware_energy_per_output_token_j", png, svg)
    _check(png, svg)


def test_paper_change_without_rows_draws_a_notice(tmp_path):
    table = _write(tmp_path / "relative_change.csv", RELATIVE)
    png, svg = tmp_path / "b.png", tmp_path / "b.svg"
    figures.paper_change(table, "opt-125m", PPL, "busy_time_s", "hardware_energy_kwh", png, svg)
    assert png.stat().st_size > 0 and b"<svg" in svg.read_bytes()[:2000]


def test_opt_scores_one_panel_per_weight_set(tmp_path):
    table = _write(tmp_path / "tradeoff.csv", TRADEOFF)
    assert figures.opt_weight_sets(figures.read_rows(table)) == ["balanced", "energy", "runtime"]
    png, svg = tmp_path / "opt_scores.png", tmp_path / "opt_scores.svg"
    figures.opt_scores(table, png, svg)
    _check(png, svg)
    text = svg.read_text(encoding="utf-8")
    assert "gpt2-large" in text and "perplexity/token_perplexity missing" in text


@pytest.mark.parametrize("several_setups", [False, True])
def test_opt_scores_with_several_setups(tmp_path, several_setups):
    rows = [dict(r) for r in TRADEOFF]
    if several_setups:
        rows.append({**rows[1], "setup": "cpu"})
    table = _write(tmp_path / "tradeoff.csv", rows)
    figures.opt_scores(table, tmp_path / "o.png", tmp_path / "o.svg")
    _check(tmp_path / "o.png", tmp_path / "o.svg")
