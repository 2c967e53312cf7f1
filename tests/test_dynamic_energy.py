"""Dynamic energy (hardware energy minus the idle window's power over the run) end to end
through run figures, aggregation, the energy table and the trade-off."""

from __future__ import annotations

import json

import pytest

from llm_footprint.energy.summary import (
    AGGREGATED,
    add_dynamic_energy,
    aggregate,
    idle_power_w,
    run_figures,
)
from llm_footprint.tables import ENERGY_FIGURES, energy_rows
from llm_footprint.tradeoff import tradeoff_rows

IDLE = {"cpu_power_w": 2.0, "gpu_power_w": 0.0, "ram_power_w": 1.5}


def _run(cpu_kwh=0.0003, ram_kwh=0.0001, duration=60.0, tokens=(25, 25, 25, 25)):
    tracked = {"cpu_energy": cpu_kwh, "gpu_energy": 0.0, "ram_energy": ram_kwh,
               "energy_consumed": cpu_kwh + ram_kwh, "duration": duration}
    requests = [{"input_tokens": 10, "output_tokens": t, "latency_s": 1.0, "lag_s": 0.0}
                for t in tokens]
    return run_figures(tracked, requests, ram_correction_factor=7)


def test_dynamic_energy_against_hand_computed_values():
    # idle power = 2 W CPU + 0 W GPU + 1.5 W RAM x 7 = 12.5 W
    assert idle_power_w(IDLE, 7) == pytest.approx(12.5)
    figures = add_dynamic_energy(_run(), idle_power_w(IDLE, 7))
    # hardware = 0.0003 + 7 x 0.0001 = 0.001 kWh over 60 s
    assert figures["hardware_energy_kwh"] == pytest.approx(0.001)
    # idle-equivalent = 12.5 W x 60 s / 3.6e6 = 2.0833e-4 kWh
    assert figures["hardware_energy_idle_kwh"] == pytest.approx(12.5 * 60 / 3.6e6)
    # dynamic = 0.001 - 2.0833e-4 = 7.9167e-4 kWh
    assert figures["hardware_energy_dynamic_kwh"] == pytest.approx(0.001 - 12.5 * 60 / 3.6e6)
    # per output token = 7.9167e-4 kWh x 3.6e6 J/kWh / 100 tokens = 28.5 J
    assert figures["hardware_energy_dynamic_per_output_token_j"] == pytest.approx(28.5)
    assert figures["idle_power_w"] == 12.5


def test_no_output_token_leaves_the_per_token_figure_empty():
    figures = add_dynamic_energy(_run(tokens=(0,)), 12.5)
    assert figures["hardware_energy_dynamic_per_output_token_j"] is None


def test_dynamic_figures_are_aggregated_and_tabled(tmp_path):
    runs = [add_dynamic_energy(_run(cpu_kwh=cpu), 12.5) for cpu in (0.0003, 0.0004, 0.0005)]
    stats = aggregate(runs)
    # dynamic per token: (0.001 + k x 1e-4 - 12.5 x 60 / 3.6e6) x 3.6e6 / 100 = 28.5 + 3.6 k
    assert stats["hardware_energy_dynamic_per_output_token_j"]["mean"] == pytest.approx(32.1)
    assert stats["hardware_energy_dynamic_per_output_token_j"]["n"] == 3
    for name in ("hardware_energy_idle_kwh", "hardware_energy_dynamic_kwh",
                 "hardware_energy_dynamic_per_output_token_j"):
        assert name in AGGREGATED and name in ENERGY_FIGURES

    summary = {"model": "m", "variant": "v", "setup": "s", "device": "cpu", "runs": runs,
               "schedule": {"n_requests": 4}, "ram_correction_factor": 7, "aggregate": stats}
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(summary))
    row = energy_rows([path])[0]
    assert row["hardware_energy_dynamic_kwh"] == pytest.approx(
        0.0011 - 12.5 * 60 / 3.6e6)
    assert row["hardware_energy_dynamic_per_output_token_j"] == pytest.approx(32.1)
    assert row["hardware_energy_dynamic_per_output_token_j_ci95_half_width"] > 0


TRADEOFF = {"metrics": [{"task": "perplexity", "metric": "token_perplexity", "chance": 0.0,
                         "higher_is_better": False}],
            "weights": {"balanced": {"alpha": 0.5, "beta": 0.5}}, "time_figure": "duration_s",
            "baseline_setup": None}
QUALITY = [{"model": "m", "variant": v, "task": "perplexity", "metric": "token_perplexity",
            "value": value, "higher_is_better": "False"} for v, value in (("base", "20"),
                                                                          ("q4", "22"))]


def _energy(dynamic_base, dynamic_q4):
    return [{"model": "m", "variant": v, "setup": "s", "duration_s": "60",
             "hardware_energy_dynamic_kwh": d} for v, d in (("base", dynamic_base),
                                                            ("q4", dynamic_q4))]


def test_tradeoff_takes_ec_from_dynamic_energy():
    rows = tradeoff_rows(_energy("0.002", "0.001"), QUALITY,
                         {**TRADEOFF, "energy_figure": "hardware_energy_dynamic_kwh"}, "base",
                         {"m": None})
    q4 = next(r for r in rows if r["variant"] == "q4")
    assert q4["ec"] == pytest.approx(0.5) and q4["opt_balanced"] is not None
    assert q4["note"] == ""


def test_missing_dynamic_energy_is_noted_not_silent():
    rows = tradeoff_rows(_energy("", ""), QUALITY,
                         {**TRADEOFF, "energy_figure": "hardware_energy_dynamic_kwh"}, "base",
                         {"m": None})
    q4 = next(r for r in rows if r["variant"] == "q4")
    assert q4["ec"] is None and q4["opt_balanced"] is None
    assert "Ec undefined: hardware_energy_dynamic_kwh" in q4["note"]
    assert "energy.idle_window_s > 0" in q4["note"]
