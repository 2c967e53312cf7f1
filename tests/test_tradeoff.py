"""The trade-off score against hand-computed values."""

from __future__ import annotations

import pytest

from llm_footprint import tradeoff

WEIGHTS = {"balanced": {"alpha": 0.5, "beta": 0.5}, "energy": {"alpha": 0.1, "beta": 0.9},
           "runtime": {"alpha": 0.9, "beta": 0.1}}


def test_pc_for_lower_and_higher_is_better_metrics():
    assert tradeoff.pc_term(12.0, 10.0, higher_is_better=False) == pytest.approx(1.2)
    # accuracy 0.40 vs baseline 0.50 with chance 0.25: (0.5 - 0.2) / (0.4 - 0.2) = 1.5
    assert tradeoff.pc_term(0.40, 0.50, higher_is_better=True, chance=0.25) == pytest.approx(1.5)
    assert tradeoff.pc_term(0.60, 0.50, higher_is_better=True, chance=0.25) == pytest.approx(0.75)
    assert tradeoff.pc_term(0.15, 0.50, higher_is_better=True, chance=0.25) is None  # below the net


def test_opt_for_one_metric_is_pc_to_the_1_5_times_the_weighted_costs():
    pc = tradeoff.pc_score([1.2])
    assert pc == pytest.approx(1.2 ** 1.5)
    assert tradeoff.opt_score(pc, 0.8, 0.6, 0.5, 0.5) == pytest.approx(1.2 ** 1.5 * 0.7)


def test_pc_of_several_metrics_is_the_mean_of_the_powered_terms():
    assert tradeoff.pc_score([1.2, 1.5]) == pytest.approx((1.2 ** 1.5 + 1.5 ** 1.5) / 2)


def _energy(model, variant, setup, kwh, busy):
    return {"model": model, "variant": variant, "setup": setup, "hardware_energy_kwh": str(kwh),
            "busy_time_s": str(busy)}


def _quality(model, variant, task, metric, value, higher):
    return {"model": model, "variant": variant, "task": task, "metric": metric,
            "value": str(value), "higher_is_better": str(higher)}


SETTINGS = {"metrics": [{"task": "perplexity", "metric": "token_perplexity"},
                        {"task": "mmlu", "metric": "acc", "chance": 0.25}],
            "weights": WEIGHTS, "time_figure": "busy_time_s",
            "energy_figure": "hardware_energy_kwh", "baseline_setup": None}


def test_rows_against_hand_computed_values():
    energy = [_energy("m", "full", "s", 2.0, 100.0), _energy("m", "q4", "s", 1.5, 80.0)]
    quality = [_quality("m", "full", "perplexity", "token_perplexity", 10.0, False),
               _quality("m", "q4", "perplexity", "token_perplexity", 12.0, False),
               _quality("m", "full", "mmlu", "acc", 0.5, True),
               _quality("m", "q4", "mmlu", "acc", 0.4, True)]
    rows = {r["variant"]: r for r in tradeoff.tradeoff_rows(energy, quality, SETTINGS, "full", {})}
    q4 = rows["q4"]
    pc = (1.2 ** 1.5 + 1.5 ** 1.5) / 2
    assert q4["pc_perplexity_token_perplexity"] == pytest.approx(1.2)
    assert q4["pc_mmlu_acc"] == pytest.approx(1.5)
    assert q4["pc_aggregate_pow1_5"] == pytest.approx(pc)
    assert q4["tc"] == pytest.approx(0.8) and q4["ec"] == pytest.approx(0.75)
    assert q4["opt_balanced"] == pytest.approx(pc * (0.5 * 0.8 + 0.5 * 0.75))
    assert q4["opt_energy"] == pytest.approx(pc * (0.1 * 0.8 + 0.9 * 0.75))
    assert q4["opt_runtime"] == pytest.approx(pc * (0.9 * 0.8 + 0.1 * 0.75))
    assert rows["full"]["opt_balanced"] == pytest.approx(1.0)  # the baseline against itself


def test_quality_drop_raises_opt():
    energy = [_energy("m", "full", "s", 1.0, 1.0), _energy("m", "a", "s", 1.0, 1.0),
              _energy("m", "b", "s", 1.0, 1.0)]
    quality = [_quality("m", v, "perplexity", "token_perplexity", ppl, False)
               for v, ppl in (("full", 10.0), ("a", 11.0), ("b", 20.0))]
    rows = {r["variant"]: r for r in tradeoff.tradeoff_rows(energy, quality, SETTINGS | {
        "metrics": SETTINGS["metrics"][:1]}, "full", {})}
    assert rows["full"]["opt_balanced"] < rows["a"]["opt_balanced"] < rows["b"]["opt_balanced"]


def test_distilled_model_is_compared_with_its_teacher():
    energy = [_energy("teacher", "full", "s", 4.0, 40.0), _energy("student", "full", "s", 1.0, 10.0)]
    quality = [_quality("teacher", "full", "perplexity", "token_perplexity", 20.0, False),
               _quality("student", "full", "perplexity", "token_perplexity", 30.0, False)]
    settings = SETTINGS | {"metrics": SETTINGS["metrics"][:1]}
    rows = {r["model"]: r for r in tradeoff.tradeoff_rows(energy, quality, settings, "full",
                                                           {"student": "teacher"})}
    student = rows["student"]
    assert student["baseline_model"] == "teacher"
    assert student["ec"] == pytest.approx(0.25) and student["tc"] == pytest.approx(0.25)
    assert student["opt_balanced"] == pytest.approx(1.5 ** 1.5 * 0.25)


def test_missing_baseline_leaves_the_score_empty_with_a_note():
    energy = [_energy("m", "q4", "small-gpu", 1.0, 1.0)]
    rows = tradeoff.tradeoff_rows(energy, [], SETTINGS, "full", {})
    assert rows[0]["opt_balanced"] is None and "baseline not measured" in rows[0]["note"]


def test_baseline_setup_compares_across_setups():
    energy = [_energy("m", "full", "big", 2.0, 10.0), _energy("m", "q4", "small", 1.0, 10.0)]
    quality = [_quality("m", v, "perplexity", "token_perplexity", 10.0, False) for v in ("full", "q4")]
    settings = SETTINGS | {"metrics": SETTINGS["metrics"][:1], "baseline_setup": "big"}
    row = next(r for r in tradeoff.tradeoff_rows(energy, quality, settings, "full", {})
               if r["variant"] == "q4")
    assert row["baseline_setup"] == "big" and row["ec"] == pytest.approx(0.5)


def test_accuracy_at_the_safety_net_leaves_pc_undefined_with_a_note():
    energy = [_energy("m", "full", "s", 1.0, 1.0), _energy("m", "q4", "s", 1.0, 1.0)]
    quality = [_quality("m", "full", "mmlu", "acc", 0.3, True),
               _quality("m", "q4", "mmlu", "acc", 0.2, True)]
    settings = SETTINGS | {"metrics": [SETTINGS["metrics"][1]]}
    row = next(r for r in tradeoff.tradeoff_rows(energy, quality, settings, "full", {})
               if r["variant"] == "q4")
    assert row["pc_aggregate_pow1_5"] is None and row["opt_balanced"] is None
    assert "safety net" in row["note"]



def test_table_names_the_aggregate_and_keeps_the_per_metric_ratios(tmp_path):
    import csv

    energy = [_energy("m", "full", "s", 2.0, 100.0), _energy("m", "q4", "s", 1.5, 80.0)]
    quality = [_quality("m", "full", "perplexity", "token_perplexity", 10.0, False),
               _quality("m", "q4", "perplexity", "token_perplexity", 12.0, False)]
    for name, rows in (("energy.csv", energy), ("quality.csv", quality)):
        with open(tmp_path / name, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    settings = SETTINGS | {"metrics": SETTINGS["metrics"][:1]}
    tradeoff.tradeoff_table(tmp_path / "energy.csv", tmp_path / "quality.csv", settings, "full",
                            {}, tmp_path / "tradeoff.csv")
    with open(tmp_path / "tradeoff.csv", encoding="utf-8", newline="") as handle:
        rows = {r["variant"]: r for r in csv.DictReader(handle)}
    assert "pc" not in rows["q4"]
    assert float(rows["q4"]["pc_perplexity_token_perplexity"]) == pytest.approx(1.2)
    assert float(rows["q4"][tradeoff.PC_AGGREGATE_COLUMN]) == pytest.approx(1.2 ** 1.5)
    assert tradeoff.PC_AGGREGATE_COLUMN == "pc_aggregate_pow1_5"


def test_intervals_of_tc_ec_and_opt_are_propagated_from_the_energy_table():
    """Ec = 0.8 / 1.0 with half-widths 0.04 and 0.03: 0.8 x hypot(0.05, 0.03) = 0.04665;
    Tc = 5 / 10 with 0.5 and 0.0: 0.5 x 0.1 = 0.05; opt half-width = Pc x hypot(a Tc, b Ec)."""
    base = _energy("m", "full", "s", 1.0, 10) | {"hardware_energy_kwh_ci95_half_width": "0.03",
                                                  "busy_time_s_ci95_half_width": "0.0"}
    small = _energy("m", "q4", "s", 0.8, 5) | {"hardware_energy_kwh_ci95_half_width": "0.04",
                                                "busy_time_s_ci95_half_width": "0.5"}
    quality = [_quality("m", v, "perplexity", "token_perplexity", 10.0, False)
               for v in ("full", "q4")]
    settings = SETTINGS | {"metrics": [{"task": "perplexity", "metric": "token_perplexity"}]}
    rows = {r["variant"]: r for r in tradeoff.tradeoff_rows([base, small], quality, settings,
                                                            "full", {})}
    q4 = rows["q4"]
    assert q4["ec_ci95_half_width"] == pytest.approx(0.8 * (0.05**2 + 0.03**2) ** 0.5)
    assert q4["tc_ci95_half_width"] == pytest.approx(0.05)
    balanced = WEIGHTS["balanced"]
    assert q4["opt_balanced_ci95_half_width"] == pytest.approx(
        1.0 * ((balanced["alpha"] * 0.05) ** 2 + (balanced["beta"] * q4["ec_ci95_half_width"]) ** 2) ** 0.5)
    assert rows["full"]["ec_ci95_half_width"] == 0.0  # the baseline against itself


def test_single_runs_give_no_interval():
    energy = [_energy("m", "full", "s", 1.0, 10), _energy("m", "q4", "s", 0.8, 5)]
    quality = [_quality("m", v, "perplexity", "token_perplexity", 10.0, False)
               for v in ("full", "q4")]
    rows = {r["variant"]: r for r in tradeoff.tradeoff_rows(energy, quality, SETTINGS, "full", {})}
    assert rows["q4"]["ec_ci95_half_width"] is None
    assert rows["q4"]["opt_balanced_ci95_half_width"] is None
