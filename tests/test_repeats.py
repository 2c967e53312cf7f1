"""The one measurement loop of every energy scenario: stopping on precision, and resuming
after a kill from the repeats already written (real CodeCarbon trackers, a real SIGKILL)."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import REPO
from llm_footprint.energy.repeats import Precision, RepeatLedger, relative_half_width, run_repeats


def test_fixed_repeats_are_precision_with_min_equal_max():
    fixed = Precision.of({"repeats": 3})
    assert (fixed.target, fixed.min_repeats, fixed.max_repeats) == (None, 3, 3)
    assert fixed.stop_reason([1.0, 1.0], 0) is None
    assert fixed.stop_reason([1.0, 1.0, 1.0], 0) == "repeats"
    # a scenario's own precision wins over the energy section's
    section = {"repeats": 3, "precision": {"target": 0.1, "min_repeats": 2, "max_repeats": 4}}
    assert Precision.of(section, {"precision": {"target": 0.5, "min_repeats": 2,
                                                "max_repeats": 9}}).target == 0.1
    assert Precision.of({"repeats": 3}, {"precision": {"target": 0.5, "min_repeats": 2,
                                                       "max_repeats": 9}}).max_repeats == 9


def test_stops_when_the_interval_is_tight_or_a_limit_is_hit():
    precision = Precision(target=0.05, min_repeats=3, max_repeats=6, max_minutes=1)
    assert precision.stop_reason([10.0, 10.1], 0) is None              # below min_repeats
    assert precision.stop_reason([10.0, 10.1, 10.05], 0) == "target"   # 0.6 % half-width
    assert relative_half_width([10.0, 10.1, 10.05]) < 0.05
    assert precision.stop_reason([10.0, 14.0, 7.0], 0) is None         # wide: go on
    assert precision.stop_reason([10.0, 14.0, 7.0, 12, 9, 11], 0) == "max_repeats"
    assert precision.stop_reason([10.0, 14.0, 7.0], 61) == "max_minutes"


def test_loop_records_repeats_half_width_and_target_met(tmp_path):
    values = iter([10.0, 12.0, 10.5, 11.0, 10.8, 10.9, 10.7])
    ledger = RepeatLedger(tmp_path / "out", {"k": 1})
    runs, achieved = run_repeats(ledger, "s", Precision(0.05, 3, 5), "j",
                                 lambda repeat, _: {"repeat": repeat, "j": next(values)})
    assert [r["repeat"] for r in runs] == list(range(1, len(runs) + 1))
    assert achieved["repeats"] == len(runs) and achieved["stopped_by"] in ("target", "max_repeats")
    assert achieved["target_met"] == (achieved["ci95_rel_half_width"] <= 0.05)
    # a target out of reach: stopped by max_repeats, flagged as not met
    wide = iter([1.0, 3.0, 1.0, 3.0, 1.0])
    _, missed = run_repeats(RepeatLedger(tmp_path / "wide", {"k": 1}), "s",
                            Precision(0.01, 2, 5), "j", lambda r, _: {"j": next(wide)})
    assert missed["target_met"] is False and missed["stopped_by"] == "max_repeats"


def test_a_changed_fingerprint_discards_the_completed_repeats(tmp_path, caplog):
    ledger = RepeatLedger(tmp_path / "out", {"checkpoint": "a"})
    ledger.save("s", 1, {"j": 1.0})
    assert len(RepeatLedger(tmp_path / "out", {"checkpoint": "a"}).completed("s")) == 1
    with caplog.at_level("WARNING"):
        assert RepeatLedger(tmp_path / "out", {"checkpoint": "b"}).completed("s") == []
    assert "discarding 1 completed repeats" in caplog.text


KILLED_JOB = textwrap.dedent("""
    import json, sys, time
    from llm_footprint.energy.repeats import Precision, RepeatLedger, run_repeats
    from llm_footprint.energy.tracked_work import WorkMeter

    out, tracker = sys.argv[1], json.loads(sys.argv[2])
    ledger = RepeatLedger(out, {"job": "busy loop"})
    meter = WorkMeter(ledger.folder, "unused.csv", tracker, "cpu")

    def busy():
        end, n = time.perf_counter() + 0.7, 0
        while time.perf_counter() < end:
            n += 1
        return {"tokens": 100}

    def measure(repeat, emissions_file):
        return {"repeat": repeat, **meter.measure(busy, f"busy/{repeat}", emissions_file)}

    runs, achieved = run_repeats(ledger, "busy", Precision(None, 5, 5), "hardware_energy_kwh",
                                 measure)
    ledger.merge_emissions(out + ".emissions.csv", ["busy"])
    print(json.dumps({"repeats": [r["repeat"] for r in runs], "resumed": achieved["resumed"]}))
""")


def test_a_killed_job_resumes_without_losing_or_repeating_a_repeat(tmp_path):
    """SIGKILL after two completed repeats; the rerun measures repeats 3-5 only, and the merged
    CodeCarbon file holds exactly one row per repeat."""
    from test_energy_scenarios import TRACKER

    out = tmp_path / "measurement"
    command = [sys.executable, "-c", KILLED_JOB, str(out), json.dumps(TRACKER)]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ledger = tmp_path / ".measurement.repeats"
    deadline = time.monotonic() + 120
    while not (ledger / "busy-0002.json").is_file():
        assert first.poll() is None, first.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "two repeats took over 120 s"
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    done_before = sorted(p.name for p in ledger.glob("busy-*.json"))
    assert done_before[:2] == ["busy-0001.json", "busy-0002.json"] and len(done_before) < 5

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert second.returncode == 0, second.stderr[-2000:]
    result = json.loads(second.stdout.strip().splitlines()[-1])
    assert result["repeats"] == [1, 2, 3, 4, 5]
    assert result["resumed"] == len(done_before)
    rows = (tmp_path / "measurement.emissions.csv").read_text().strip().splitlines()[1:]
    run_ids = {row.split(",")[2] for row in rows}  # CodeCarbon's run_id: one per tracked run
    assert len(rows) == 5 and len(run_ids) == 5


@pytest.mark.parametrize("bad", [{"min_repeats": 4, "max_repeats": 3}])
def test_min_above_max_is_refused_naming_the_key(bad):
    import copy

    import yaml

    from conftest import SCHEMA
    from llm_footprint.plan import Plan
    from llm_footprint.schema import ConfigError

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config = copy.deepcopy(config)
    config["energy"]["scenarios"]["saturated"]["precision"] = {"target": 0.05, **bad}
    with pytest.raises(ConfigError, match="energy.scenarios.saturated.precision.min_repeats"):
        Plan.from_config(config, SCHEMA)


def test_the_planner_requests_the_worst_case_and_prints_the_expected():
    from llm_footprint import cluster, cluster_estimates

    precision = Precision(0.02, min_repeats=3, max_repeats=8, max_minutes=240)
    assert cluster_estimates.repeat_work_minutes(precision, 30, "expected") == 90
    assert cluster_estimates.repeat_work_minutes(precision, 30, "worst") == 240  # 8 x 30
    assert cluster_estimates.repeat_work_minutes(Precision(0.02, 3, 20, 240), 30,
                                                 "worst") == 270  # the cap plus one window
    report = cluster.plan(REPO / "configs" / "thesis.yaml")
    assert "per tuple: one job, 1.67 h expected, 4.38 h requested at worst" in report
    assert "timed_replay: 1.67 h expected, 4.17 h at worst (target 2.0% half-width, " \
           "3-8 repeats, at most 240 min)" in report
    assert "expected" in report.splitlines()[-1] or any(
        line.strip().startswith("expected") for line in report.splitlines())


def test_tables_and_front_page_carry_and_flag_the_precision():
    from llm_footprint.front_page import summary_section
    from llm_footprint.tables import _precision

    row = _precision({"headline": "hardware_energy_kwh", "target": 0.05,
                      "ci95_rel_half_width": 0.08, "target_met": False,
                      "stopped_by": "max_repeats"})
    assert row["precision_target_met"] is False and row["precision_ci95_rel_half_width"] == 0.08
    assert set(_precision(None).values()) == {None}  # results from before: empty, not invented
    summary = [{"model": "m", "variant": v, "setup": "cpu", "size_on_disk_mb": 1,
                "compression_ratio": 1, "replay_energy_per_output_token_j": 1.0,
                "timed_replay_precision_target_met": met}
               for v, met in (("full", True), ("gptq", False))]
    text = "\n".join(summary_section(summary, ["timed_replay"]))
    assert text.count("†") == 2 and "gptq @ cpu (replay J / output token)" in text
    assert "full @ cpu (replay" not in text
    # as the workflow gives it: summary.csv read back, where every cell is a string
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(summary[0]))
    writer.writeheader()
    writer.writerows([*summary, {**summary[0], "variant": "rtn",
                                 "timed_replay_precision_target_met": None}])
    read_back = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert read_back[1]["timed_replay_precision_target_met"] == "False"
    text = "\n".join(summary_section(read_back, ["timed_replay"]))
    assert text.count("†") == 2 and "gptq @ cpu (replay J / output token)" in text
    assert "full @ cpu (replay" not in text and "rtn @ cpu (replay" not in text
