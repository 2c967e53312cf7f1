"""One measuring job per (model, variant, setup): the replay and every scenario on one loaded
model with one idle window, on the demo model under real CodeCarbon; a job that dies in its
last scenario keeps what it finished, and its rerun measures only what is missing."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import REPO, SCHEMA, served_schedule, small_demo_config
from llm_footprint import compression
from llm_footprint.energy import measure as replay_module
from llm_footprint.energy import scenarios as scenario_module
from llm_footprint.energy import tuple_job
from llm_footprint.energy.repeats import RepeatLedger
from llm_footprint.energy.schedule import write_schedule
from llm_footprint.plan import Plan


def test_a_scenario_the_study_does_not_configure_is_refused(tmp_path):
    with pytest.raises(ValueError, match="energy.scenarios has no saturated"):
        tuple_job.measure_tuple("m", "v", "s", tmp_path, tmp_path, {"scenarios": {}},
                                {"device": "cpu"}, tmp_path / "out",
                                scenario_dirs={"saturated": tmp_path / "sat"}, quality={})


def test_one_load_one_idle_window_and_a_rerun_that_measures_only_what_is_missing(
        demo_model_dir, service_time_s, tmp_path, monkeypatch):
    config = small_demo_config(service_time_s=service_time_s)
    schedule, deviation = served_schedule(service_time_s, n_requests=2)
    config["energy"]["schedule"].update(schedule)
    config["energy"].update(idle_window_s=2, repeats=1, max_duration_deviation=deviation)
    config["energy"]["scenarios"] = {
        "fixed_workload": {"workload": "perplexity", "repeats": 2, "max_windows": 1},
        "saturated": {"batch_sizes": [1], "duration_s": 2, "repeats": 2}}
    plan = Plan.from_config(config, SCHEMA, search_dirs=[REPO])
    params = plan.measurement_params(plan.scenarios)
    checkpoint = tmp_path / "full"
    compression.compress("smollm2-135m", "full", {"method": "none", "dtype": "float32"},
                         demo_model_dir, checkpoint, threads=2)
    write_schedule(plan.schedule_params, tmp_path / "schedule.json")
    out = {"timed_replay": tmp_path / "energy" / "cpu",
           **{name: tmp_path / name / "cpu" for name in plan.scenarios}}

    loads = []
    real_load = tuple_job.load_for_inference

    def counted_load(*args, **kwargs):
        loads.append(args[0])
        return real_load(*args, **kwargs)

    def no_second_load(*args, **kwargs):
        raise AssertionError("a measurement loaded the model again")

    monkeypatch.setattr(tuple_job, "load_for_inference", counted_load)
    monkeypatch.setattr(replay_module, "load_for_inference", no_second_load)
    monkeypatch.setattr(scenario_module, "load_for_inference", no_second_load)
    real_scenario = tuple_job.measure_scenario

    def dies_in_saturated(name, **kwargs):
        if name == "saturated":
            raise RuntimeError("node lost")
        return real_scenario(name, **kwargs)

    def job():
        return tuple_job.measure_tuple(
            "smollm2-135m", "full", "cpu", checkpoint, tmp_path / "schedule.json",
            params["energy"], plan.runtime_setup("laptop-cpu"), out["timed_replay"],
            scenario_dirs={name: out[name] for name in plan.scenarios},
            quality=params["quality"], threads=2)

    monkeypatch.setattr(tuple_job, "measure_scenario", dies_in_saturated)
    with pytest.raises(RuntimeError, match="node lost"):
        job()
    assert (out["timed_replay"] / "summary.json").is_file()
    assert (out["fixed_workload"] / "summary.json").is_file()
    assert not out["saturated"].exists()
    for name in ("timed_replay", "fixed_workload"):  # kept until the job's last output
        assert RepeatLedger.folder_of(out[name]).is_dir()
        shutil.rmtree(out[name])  # what Snakemake does to a failed job's outputs

    monkeypatch.setattr(tuple_job, "measure_scenario", real_scenario)
    summaries = job()
    assert loads == [checkpoint, checkpoint]  # one load per job, none per measurement
    replay = summaries["timed_replay"]["precision"]
    fixed = summaries["fixed_workload"]["precision"]["fixed_workload"]
    saturated = summaries["saturated"]["precision"]["batch1"]
    assert (replay["repeats"], replay["resumed"]) == (1, 1)  # nothing measured twice
    assert (fixed["repeats"], fixed["resumed"]) == (2, 2)
    assert (saturated["repeats"], saturated["resumed"]) == (2, 0)
    idle = summaries["timed_replay"]["idle"]
    assert idle["duration_s"] > 1
    idle_csv = (out["timed_replay"] / "idle_emissions.csv").read_text()
    for name in plan.scenarios:
        summary = json.loads((out[name] / "summary.json").read_text())
        assert summary["idle"] == idle and summary["idle_shared_with"] == "timed_replay"
        assert (out[name] / "idle_emissions.csv").read_text() == idle_csv
        assert summary["runs"] and all(r["hardware_energy_dynamic_kwh"] is not None
                                       for r in summary["runs"])
        assert not RepeatLedger.folder_of(out[name]).exists()
    assert not RepeatLedger.folder_of(out["timed_replay"]).exists()
    rows = (out["fixed_workload"] / "emissions.csv").read_text().strip().splitlines()[1:]
    assert len(rows) == 2  # one CodeCarbon row per repeat, the resumed ones included
