"""The idle window stops once the idle power is known (energy.idle_precision).

Real CodeCarbon trackers measure every slice; the RAM power is forced to a known value so that
the expected idle power is machine-independent (the CPU's stays CodeCarbon's own estimate, in
process mode near zero for an idle process).
"""

from __future__ import annotations

import copy

import pytest

from conftest import REPO, SCHEMA, demo_config
from llm_footprint.cluster_estimates import idle_minutes
from llm_footprint.energy.measure import (
    IDLE_SERIES,
    IDLE_SLICE_SERIES,
    ledger_idle,
    measure_gated_idle,
)
from llm_footprint.energy.repeats import Precision, RepeatLedger
from llm_footprint.schema import ConfigError
from llm_footprint.study import load_study

RAM_POWER_W = 10.0


def _energy(idle_window_s: float, target: float, min_slices: int = 2) -> dict:
    return {"idle_window_s": idle_window_s, "max_foreign_cpu_share": None,
            "idle_precision": {"target": target, "slice_s": 1, "min_slices": min_slices},
            "tracker": {"country_iso_code": "BEL", "measure_power_secs": 1,
                        "tracking_mode": "process", "ram_correction_factor": 1.0,
                        "force_ram_power_w": RAM_POWER_W}}


def _emission_rows(ledger: RepeatLedger) -> int:
    path = ledger.folder / f"{IDLE_SERIES}-0001.emissions.csv"
    return len(path.read_text(encoding="utf-8").strip().splitlines()) - 1


def test_a_steady_idle_power_stops_before_the_window_is_used_up(tmp_path):
    """An idle process's power is steady: a 10 % target is met after a few 1 s slices (two
    when the process's CPU share does not blip), instead of idling the whole 10 s."""
    ledger = RepeatLedger(tmp_path / "out", {"case": "steady"})
    energy = _energy(idle_window_s=10, target=0.10)
    idle = ledger_idle(ledger, energy)
    slices = idle["precision"]["repeats"]
    assert 2 <= slices <= 5 and idle["precision"]["stopped_by"] == "target"
    assert idle["precision"]["target_met"] is True
    assert idle["duration_s"] == pytest.approx(slices, abs=0.1 * slices)
    assert idle["ram_power_w"] == pytest.approx(RAM_POWER_W, rel=0.03)
    assert len(idle["slices"]) == slices and idle["started_utc"] < idle["ended_utc"]
    assert _emission_rows(ledger) == slices  # the kept idle file holds every slice's own row
    assert ledger_idle(ledger, energy) == idle  # measured once, then read back


def test_an_unreachable_target_uses_the_whole_window_and_says_so(tmp_path):
    ledger = RepeatLedger(tmp_path / "out", {"case": "unreachable"})
    idle = ledger_idle(ledger, _energy(idle_window_s=3, target=1e-9))
    achieved = idle["precision"]
    assert (achieved["repeats"], achieved["stopped_by"], achieved["target_met"]) == (
        3, "max_repeats", False)
    assert idle["duration_s"] == pytest.approx(3.0, abs=0.3)


def test_a_killed_idle_window_resumes_from_its_completed_slices(tmp_path):
    """One slice completed before the kill (a run stopped after it), then the job's rerun:
    the slice is kept and counted once."""
    out = tmp_path / "out"
    energy = _energy(idle_window_s=10, target=0.10)
    measure_gated_idle(RepeatLedger(out, {"case": "resume"}), energy, Precision(None, 1, 1))
    ledger = RepeatLedger(out, {"case": "resume"})
    assert len(ledger.completed(IDLE_SLICE_SERIES)) == 1
    idle = ledger_idle(ledger, energy)
    slices = idle["precision"]["repeats"]
    assert idle["precision"]["resumed"] == 1 and 2 <= slices <= 5
    assert len(idle["slices"]) == slices and _emission_rows(ledger) == slices


def _demo_with(**energy) -> dict:
    config = copy.deepcopy(demo_config())
    config["energy"].update(energy)
    return config


def test_min_slices_must_fit_in_the_idle_window():
    config = _demo_with(idle_window_s=2, idle_precision={"target": 0.05, "slice_s": 1,
                                                         "min_slices": 3})
    with pytest.raises(ConfigError, match=r"energy\.idle_precision\.min_slices.*3 slices of 1 s "
                                          r"need energy\.idle_window_s >= 3"):
        load_study(config, SCHEMA, search_dirs=[REPO])


def test_the_planner_expects_min_slices_and_requests_the_whole_window():
    energy = _energy(idle_window_s=60, target=0.05, min_slices=5)
    assert idle_minutes(energy, "expected") == pytest.approx(5 / 60)
    assert idle_minutes(energy, "worst") == pytest.approx(1.0)
    assert idle_minutes({**energy, "idle_precision": None}, "expected") == pytest.approx(1.0)
