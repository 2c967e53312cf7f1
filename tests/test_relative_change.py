"""relative_change.csv on hand-made tables: every quality metric of the study, energy by
component, and the trade-off's time and energy figures."""

from __future__ import annotations

import csv

import pytest

from llm_footprint import tables


def _write(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _energy(variant, kwh, busy):
    return {"model": "m", "variant": variant, "setup": "s", "cpu_energy_kwh": kwh / 2,
            "gpu_energy_kwh": 0.0, "ram_energy_corrected_kwh": kwh / 2,
            "hardware_energy_kwh": kwh, "busy_time_s": busy, "latency_p50_s": busy / 10}


QUALITY = [  # the quality table: perplexity, mmlu and IFEval's four accuracies
    {"model": "m", "variant": v, "task": task, "metric": metric, "value": value}
    for v, scale in (("full", 1.0), ("q4", 0.8))
    for task, metric, value in (
        ("perplexity", "token_perplexity", 10.0 / scale),
        ("mmlu", "acc", 0.5 * scale),
        ("ifeval", "prompt_level_strict_acc", 0.4 * scale),
        ("ifeval", "inst_level_strict_acc", 0.5 * scale),
        ("ifeval", "prompt_level_loose_acc", 0.45 * scale),
        ("ifeval", "inst_level_loose_acc", 0.55 * scale))]


@pytest.fixture
def table(tmp_path):
    energy = _write(tmp_path / "energy.csv", [_energy("full", 2.0, 100.0),
                                              _energy("q4", 1.5, 120.0)])
    quality = _write(tmp_path / "quality.csv", QUALITY)
    configured = [{"task": "perplexity", "metric": "token_perplexity"}]
    tables.relative_change_table(energy, quality, configured, "full", {}, None,
                                 tmp_path / "relative_change.csv",
                                 figures=["busy_time_s", "hardware_energy_kwh"])
    with open(tmp_path / "relative_change.csv", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_quality_metric_of_the_table_has_a_column(table):
    assert len(table) == 1  # the baseline itself has no row
    row = table[0]
    for task, metric in {(r["task"], r["metric"]) for r in QUALITY}:
        assert f"{task}_{metric}_change_pct" in row, (task, metric)
    assert float(row["ifeval_prompt_level_strict_acc_change_pct"]) == pytest.approx(-20.0)
    assert float(row["ifeval_inst_level_loose_acc_change_pct"]) == pytest.approx(-20.0)
    assert float(row["mmlu_acc_change_pct"]) == pytest.approx(-20.0)
    assert float(row["perplexity_token_perplexity_change_pct"]) == pytest.approx(25.0)


def test_columns_the_configured_metrics_first_then_the_table_order(table):
    columns = [c for c in table[0] if c.endswith("_change_pct")]
    assert columns == ["cpu_energy_change_pct", "gpu_energy_change_pct", "ram_energy_change_pct",
                       "hardware_energy_change_pct", "busy_time_change_pct",
                       "perplexity_token_perplexity_change_pct", "mmlu_acc_change_pct",
                       "ifeval_prompt_level_strict_acc_change_pct",
                       "ifeval_inst_level_strict_acc_change_pct",
                       "ifeval_prompt_level_loose_acc_change_pct",
                       "ifeval_inst_level_loose_acc_change_pct"]


def test_time_figure_and_energy_changes(table):
    row = table[0]
    assert float(row["busy_time_change_pct"]) == pytest.approx(20.0)
    assert float(row["hardware_energy_change_pct"]) == pytest.approx(-25.0)
    assert row["gpu_energy_change_pct"] == ""  # 0 kWh baseline: no ratio


def test_configured_metric_missing_from_the_table_keeps_an_empty_column(tmp_path):
    energy = _write(tmp_path / "energy.csv", [_energy("full", 2.0, 100.0),
                                              _energy("q4", 1.5, 120.0)])
    tables.relative_change_table(energy, None, [{"task": "mmlu", "metric": "acc"}], "full", {},
                                 None, tmp_path / "out.csv")
    with open(tmp_path / "out.csv", encoding="utf-8", newline="") as handle:
        row = next(csv.DictReader(handle))
    assert row["mmlu_acc_change_pct"] == ""


def test_change_column_drops_the_unit():
    assert tables.change_column("busy_time_s") == "busy_time_change_pct"
    assert tables.change_column("latency_p50_s") == "latency_p50_change_pct"
    assert tables.change_column("hardware_energy_per_output_token_j") == \
        "hardware_energy_per_output_token_change_pct"
    assert tables.change_column("hardware_energy_kwh") == "hardware_energy_change_pct"
