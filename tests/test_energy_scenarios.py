"""Energy scenarios beside the timed replay: the knee, token counting, the shared work meter
(real CodeCarbon), the tables, and the plan's scenario jobs."""

from __future__ import annotations

import json
import time

import pytest
import torch

from conftest import REPO, SCHEMA, demo_config
from llm_footprint.energy.scenarios.saturated import knee
from llm_footprint.energy.scenarios.workloads import new_token_count
from llm_footprint.energy.summary import MeasurementError
from llm_footprint.energy.tracked_work import WorkMeter
from llm_footprint.plan import Plan
from llm_footprint.schema import ConfigError
from llm_footprint.tables import scenario_rows

TRACKER = {"country_iso_code": "BEL", "measure_power_secs": 0.5, "tracking_mode": "process",
           "ram_correction_factor": 1.0}


def test_knee_is_where_energy_per_token_stops_falling():
    points = [{"batch_size": 1, "hardware_energy_per_output_token_j": 10.0},
              {"batch_size": 2, "hardware_energy_per_output_token_j": 6.0},   # -40 %
              {"batch_size": 4, "hardware_energy_per_output_token_j": 5.0},   # -17 %
              {"batch_size": 8, "hardware_energy_per_output_token_j": 4.9}]   # -2 %
    assert knee(points, tolerance=0.05) == 4
    assert knee(points, tolerance=0.20) == 2
    assert knee(points[:2], tolerance=0.05) == 2  # still falling at the largest size


def test_new_tokens_count_up_to_the_first_end_of_sequence():
    rows = torch.tensor([[5, 6, 2, 0, 0], [7, 8, 9, 10, 11]])
    assert new_token_count(rows, eos_token_id=2) == 3 + 5
    assert new_token_count(rows, eos_token_id=None) == 10  # fixed length: every token counts


def _busy(seconds: float) -> int:
    end, count = time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        count += 1
    return count


def test_work_meter_measures_a_piece_of_work_with_codecarbon(tmp_path):
    meter = WorkMeter(tmp_path, "emissions.csv", TRACKER, "cpu", max_foreign_cpu_share=None,
                      idle_power_w=2.0)
    figures = meter.measure(lambda: {"tokens": 100, "note": _busy(1.5)}, "test/busy")
    assert figures["hardware_energy_kwh"] > 0 and figures["wall_time_s"] >= 1.5
    assert figures["tokens_per_s"] == pytest.approx(100 / figures["wall_time_s"])
    assert figures["hardware_energy_per_output_token_j"] == pytest.approx(
        figures["hardware_energy_kwh"] * 3.6e6 / 100)
    # dynamic energy: total minus the idle power over the run's duration
    assert figures["hardware_energy_idle_kwh"] == pytest.approx(
        2.0 * figures["duration_s"] / 3.6e6)
    assert meter.power_sources[0]["cpu"].startswith(("measured", "estimated", "constant"))
    assert (tmp_path / "emissions.csv").is_file()


def test_work_that_processes_no_token_is_rejected(tmp_path):
    meter = WorkMeter(tmp_path, "emissions.csv", TRACKER, "cpu")
    with pytest.raises(MeasurementError, match="no token"):
        meter.measure(lambda: {"tokens": 0, "spent": _busy(0.6)}, "test/empty")


def _summary(tmp_path, name, body):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "summary.json").write_text(json.dumps(body))
    return folder


def test_scenario_tables_give_intervals_and_the_knee(tmp_path):
    what = {"model": "m", "variant": "v", "setup": "s", "device": "cpu", "dtype": "float32",
            "cpu_capability": "AVX2", "power_sources": {"cpu": "estimated: x", "gpu": "absent",
                                                        "ram": "estimated: y"}}
    fixed = _summary(tmp_path, "fixed", {
        **what, "workload": {"workload": "perplexity", "batch_size": 1},
        "runs": [{}, {}, {}],
        "aggregate": {"hardware_energy_kwh": {"mean": 2e-5, "ci95_half_width": 1e-6}}})
    row = scenario_rows("fixed_workload", [fixed])[0]
    assert (row["hardware_energy_kwh"], row["hardware_energy_kwh_ci95_half_width"]) == (2e-5, 1e-6)
    assert row["repeats"] == 3 and row["cpu_power_source"] == "estimated: x"
    runs = [{"batch_size": b, "hardware_energy_per_output_token_j": e, "tokens_per_s": t}
            for b, e, t in ((1, 4.0, 10.0), (1, 4.2, 11.0), (2, 3.0, 18.0), (2, 3.2, 19.0))]
    saturated = _summary(tmp_path, "saturated", {
        **what, "workload": {"batch_sizes": [1, 2]}, "knee_batch_size": 2, "runs": runs})
    rows = {r["batch_size"]: r for r in scenario_rows("saturated", [saturated])}
    assert rows[1]["hardware_energy_per_output_token_j"] == pytest.approx(4.1)
    assert rows[1]["hardware_energy_per_output_token_j_ci95_half_width"] > 0
    assert rows[2]["is_knee"] and not rows[1]["is_knee"]


def _study_with_scenarios():
    config = demo_config()
    config["energy"]["scenarios"] = {"fixed_workload": {"workload": "perplexity"},
                                     "saturated": {"batch_sizes": [1, 2]}}
    return config


def test_plan_measures_a_tuples_replay_and_scenarios_in_one_job():
    plan = Plan.from_config(_study_with_scenarios(), SCHEMA, search_dirs=[REPO])
    assert plan.scenarios == ["fixed_workload", "saturated"]
    assert plan.scenario_dirs("saturated") == [
        f"results/scenarios/saturated/smollm2-135m/{v}/laptop-cpu" for v in plan.study.variants]
    assert plan.scenario_outputs() == {
        name: f"results/scenarios/{name}/{{model}}/{{variant}}/{{setup}}"
        for name in ("fixed_workload", "saturated")}
    targets = plan.all_targets()
    assert "results/tables/fixed_workload.csv" in targets
    assert "results/tables/saturated.csv" in targets
    # the job's parameters: the scenarios' settings and the replay's
    params = plan.measurement_params(plan.scenarios)
    assert set(params["energy"]["scenarios"]) == {"fixed_workload", "saturated"}
    assert params["quality"]["perplexity"]
    assert "scenarios" not in plan.replay_params
    assert plan.measurement_params([]) == {"energy": plan.replay_params, "quality": None}
    jobs = plan.gpu_jobs()
    assert {j["rule"] for j in jobs} >= {"measure_energy"}
    measuring = [j for j in jobs if j["rule"] == "measure_energy"]
    assert len(measuring) == len(plan.study.variants)  # one per tuple, not one per scenario
    parts = measuring[0]["measurements"]
    assert [p["measurement"] for p in parts] == ["timed_replay", "fixed_workload", "saturated"]
    assert all(0 < p["expected"] <= p["worst"] for p in parts)
    # one load and idle window: the job is shorter than its parts measured one job each
    from llm_footprint.cluster_estimates import ENERGY_OVERHEAD_MIN, requested_minutes
    idle_and_load = plan.config["energy"]["idle_window_s"] / 60 + ENERGY_OVERHEAD_MIN
    separate = sum(p["worst"] for p in parts) + 2 * idle_and_load
    assert measuring[0]["minutes"] == requested_minutes(sum(p["worst"] for p in parts))
    assert measuring[0]["minutes"] < requested_minutes(separate)


def test_tradeoff_from_a_scenario_that_is_not_measured_is_refused():
    config = demo_config()
    config["energy"].pop("scenarios")
    config["tradeoff"]["scenario"] = "fixed_workload"
    with pytest.raises(ConfigError) as caught:
        Plan.from_config(config, SCHEMA, search_dirs=[REPO])
    assert caught.value.key == "tradeoff.scenario"
    config = _study_with_scenarios()
    config["tradeoff"]["scenario"] = "fixed_workload"
    with pytest.raises(ConfigError) as caught:
        Plan.from_config(config, SCHEMA, search_dirs=[REPO])
    assert caught.value.key == "tradeoff.time_figure"
    config["tradeoff"]["time_figure"] = "wall_time_s"
    plan = Plan.from_config(config, SCHEMA, search_dirs=[REPO])
    assert plan.tradeoff_energy_table == "results/tables/fixed_workload.csv"


def test_prefill_decode_split_arithmetic():
    """Decode = full run minus the prefill-only run, over the tokens after each first one."""
    from llm_footprint.energy.scenarios.fixed_workload import decode_split

    full = {"hardware_energy_kwh": 3e-5, "hardware_energy_dynamic_kwh": 2e-5,
            "wall_time_s": 10.0, "output_tokens": 4 * 17, "sequences": 4}
    prefill = {"hardware_energy_kwh": 1e-5, "hardware_energy_dynamic_kwh": 0.5e-5,
               "wall_time_s": 2.0, "input_tokens": 200}
    split = decode_split(full, prefill)
    assert split["decode_tokens"] == 64
    assert split["decode_hardware_energy_kwh"] == pytest.approx(2e-5)
    assert split["decode_hardware_energy_per_output_token_j"] == pytest.approx(2e-5 * 3.6e6 / 64)
    assert split["decode_hardware_energy_dynamic_per_output_token_j"] == pytest.approx(
        1.5e-5 * 3.6e6 / 64)
    assert split["prefill_hardware_energy_per_input_token_j"] == pytest.approx(1e-5 * 3.6e6 / 200)
    # 8 s of decoding for 16 tokens per sequence, the 4 sequences decoded together
    assert split["decode_time_per_token_s"] == pytest.approx(8.0 / 16)
    assert "prefill_split_note" not in split
    # noise larger than the decode: no figure is made up, a note says why
    unresolved = decode_split({**full, "hardware_energy_kwh": 0.9e-5}, prefill)
    assert unresolved["decode_hardware_energy_kwh"] is None
    assert unresolved["decode_hardware_energy_per_output_token_j"] is None
    assert unresolved["prefill_split_note"].startswith("unresolved")


def test_generate_workload_splits_prefill_and_decode_on_the_demo_model(demo_model_dir, tmp_path):
    """fixed_workload generate with split_prefill, measured with real CodeCarbon."""
    from llm_footprint import compression
    from llm_footprint.energy.repeats import RepeatLedger
    from llm_footprint.energy.scenarios import fixed_workload
    from llm_footprint.energy.summary import aggregate
    from llm_footprint.loading import load_for_inference

    torch.set_num_threads(2)
    compression.compress("smollm2-135m", "full", {"method": "none", "dtype": "float32"},
                         demo_model_dir, tmp_path / "full", threads=2)
    loaded = load_for_inference(tmp_path / "full", "cpu", 2)
    context = {"prompts": ["How are you today?", "What is the capital of France?"],
               "device": "cpu",
               "generation": {"max_new_tokens": 24, "do_sample": False, "seed": 0,
                              "apply_chat_template": True},
               "energy": {}, "ledger": RepeatLedger(tmp_path / "out", {"test": 1})}
    meter = WorkMeter(tmp_path, "emissions.csv", TRACKER, "cpu", idle_power_w=1.0)
    settings = {"workload": "generate", "batch_size": 2, "repeats": 2, "max_windows": None,
                "split_prefill": True, "warmup_runs": 1}
    result = fixed_workload.run(meter, loaded, settings, context, "demo")
    assert result["workload"]["split_prefill"] is True
    assert result["workload"]["warmup_runs"] == 1
    for run in result["runs"]:
        assert run["output_tokens"] == 2 * 24 and run["decode_tokens"] == 2 * 23
        assert run["prefill_input_tokens"] == run["input_tokens"] > 10
        assert 0 < run["prefill_wall_time_s"] < run["wall_time_s"]
        assert 0 < run["prefill_hardware_energy_kwh"] < run["hardware_energy_kwh"]
        assert run["decode_hardware_energy_kwh"] == pytest.approx(
            run["hardware_energy_kwh"] - run["prefill_hardware_energy_kwh"])
    aggregated = aggregate(result["runs"])
    assert aggregated["decode_hardware_energy_per_output_token_j"]["n"] == 2
    # without the split: no prefill run is measured
    assert result["precision"]["fixed_workload"]["repeats"] == 2
    # warmup_runs: that many untracked runs before the tracked one, counted in forward passes
    forwards = []
    hook = loaded.model.register_forward_pre_hook(lambda *args: forwards.append(1))
    try:
        passes = {}
        for warmup_runs in (0, 1):
            folder = tmp_path / f"plain-{warmup_runs}"
            folder.mkdir()
            context["ledger"] = RepeatLedger(tmp_path / f"plain-out-{warmup_runs}",
                                             {"test": 2, "warmup_runs": warmup_runs})
            forwards.clear()
            plain = fixed_workload.run(WorkMeter(folder, "emissions.csv", TRACKER, "cpu"),
                                       loaded, {**settings, "split_prefill": False, "repeats": 1,
                                                "warmup_runs": warmup_runs}, context, "demo")
            passes[warmup_runs] = len(forwards)
            assert plain["workload"]["warmup_runs"] == warmup_runs
            assert len(plain["runs"]) == 1
            assert "prefill_hardware_energy_kwh" not in plain["runs"][0]
    finally:
        hook.remove()
    assert passes[0] > 0 and passes[1] == 2 * passes[0]
