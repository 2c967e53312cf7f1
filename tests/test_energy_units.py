"""Energy stage pieces checked without a model: schedule, replay timing, arithmetic, sanity."""

from __future__ import annotations

import math

import pytest

from llm_footprint.energy import schedule as schedule_module
from llm_footprint.energy.replay import replay
from llm_footprint.energy.stats import mean_ci95, percentile
from llm_footprint.energy.summary import MeasurementError, aggregate, check_run, run_figures


def _energy(tmp_path, seed=0, duration_s=600, mean_interval_s=6, process="uniform_sorted",
            dialogues=40):
    path = tmp_path / "dialogues.txt"
    path.write_text("".join(f"Question number {i} , please ? __eou__ Answer {i} . __eou__\n"
                            for i in range(dialogues)))
    return {"prompts": {"source": "dailydialog_file", "path": str(path)},
            "schedule": {"duration_s": duration_s, "mean_interval_s": mean_interval_s,
                         "arrival_process": process, "seed": seed}}


def test_same_seed_same_schedule_other_seed_other_schedule(tmp_path):
    first = schedule_module.build_schedule(_energy(tmp_path, seed=7))
    again = schedule_module.build_schedule(_energy(tmp_path, seed=7))
    other = schedule_module.build_schedule(_energy(tmp_path, seed=8))
    assert first["requests"] == again["requests"]
    assert first["requests"] != other["requests"]
    assert [r["arrival_s"] for r in first["requests"]] != [r["arrival_s"] for r in other["requests"]]


def test_uniform_sorted_schedule_has_the_thesis_rate(tmp_path):
    built = schedule_module.build_schedule(_energy(tmp_path, duration_s=600, mean_interval_s=6,
                                                   dialogues=200))
    times = [r["arrival_s"] for r in built["requests"]]
    assert len(times) == 100 and times == sorted(times)
    assert 0 <= times[0] and times[-1] < 600
    prompts = [r["prompt"] for r in built["requests"]]
    assert len(set(prompts)) == 100 and not built["sampled_with_replacement"]
    assert all(p.startswith("Question number ") and p.endswith(", please?") for p in prompts)


def test_poisson_schedule_gaps_average_the_mean_interval(tmp_path):
    built = schedule_module.build_schedule(_energy(tmp_path, duration_s=60000, mean_interval_s=6,
                                                   process="poisson", dialogues=50))
    times = [r["arrival_s"] for r in built["requests"]]
    assert abs(60000 / len(times) - 6) < 0.5
    assert built["sampled_with_replacement"]  # 10,000 requests from 50 dialogues


def test_schedule_records_the_source_hash(tmp_path):
    energy = _energy(tmp_path)
    first = schedule_module.build_schedule(energy)
    with open(energy["prompts"]["path"], "a") as handle:
        handle.write("A new first line ? __eou__ Yes . __eou__\n")
    assert schedule_module.build_schedule(energy)["source"]["sha256"] != first["source"]["sha256"]


def test_detokenize_dailydialog_spacing():
    assert schedule_module.detokenize("Excuse me , is this seat taken ? ") == "Excuse me, is this seat taken?"
    assert schedule_module.detokenize("I don ' t know ( really ) .") == "I don't know (really)."
    assert schedule_module.detokenize("It’s 5 % off !") == "It's 5% off!"


def test_dailydialog_file_needs_the_eou_separator(tmp_path):
    path = tmp_path / "d.txt"
    path.write_text("Hello there . __eou__\nno separator here\n")
    with pytest.raises(ValueError, match=r"d.txt:2: no __eou__"):
        schedule_module.dailydialog_file_dialogues(path)


def test_real_dailydialog_test_split_parses(shared_data):
    dialogues = schedule_module.dailydialog_file_dialogues(shared_data / "dailydialog" / "dialogues_test.txt")
    assert len(dialogues) == 1000 and all(len(d) >= 2 for d in dialogues)
    assert not any("\r" in u for d in dialogues for u in d)


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_replay_serves_on_time_and_records_lag():
    clock = FakeClock()

    def generate(prompt, index):
        clock.now += 3.0  # every request takes 3 s
        return 5, 7, f"answer {index}"

    requests = [{"index": 0, "arrival_s": 1.0, "prompt": "a"},
                {"index": 1, "arrival_s": 2.0, "prompt": "b"},  # arrives while 0 is served
                {"index": 2, "arrival_s": 10.0, "prompt": "c"}]
    records, elapsed = replay(requests, generate, window_s=20.0, clock=clock, sleep=clock.sleep)
    assert [r["start_s"] for r in records] == [1.0, 4.0, 10.0]
    assert [r["lag_s"] for r in records] == [0.0, 2.0, 0.0]
    assert all(r["latency_s"] == 3.0 and r["output_tokens"] == 7 for r in records)
    assert elapsed == 20.0  # idles to the end of the window


def _tracked(cpu=0.01, gpu=0.02, ram=0.001, duration=60.0):
    return {"cpu_energy": cpu, "gpu_energy": gpu, "ram_energy": ram,
            "energy_consumed": cpu + gpu + ram, "duration": duration}


def _requests(latencies=(1.0, 2.0, 3.0, 4.0), tokens=25):
    return [{"input_tokens": 10, "output_tokens": tokens, "latency_s": t, "lag_s": 0.5 * i}
            for i, t in enumerate(latencies)]


def test_run_figures_against_hand_computed_values():
    figures = run_figures(_tracked(), _requests(), ram_correction_factor=7)
    assert figures["ram_energy_corrected_kwh"] == pytest.approx(0.007)
    assert figures["hardware_energy_kwh"] == pytest.approx(0.037)  # 0.01 + 0.02 + 7 x 0.001
    assert figures["total_energy_kwh_reported"] == pytest.approx(0.031)
    assert figures["hardware_energy_per_request_wh"] == pytest.approx(37 / 4)
    assert figures["hardware_energy_per_output_token_j"] == pytest.approx(0.037 * 3.6e6 / 100)
    assert figures["cpu_power_w_mean"] == pytest.approx(0.01 * 3.6e6 / 60)
    assert figures["latency_p50_s"] == pytest.approx(2.5)
    assert figures["latency_p90_s"] == pytest.approx(3.7)
    assert figures["lag_mean_s"] == pytest.approx(0.75)
    assert figures["busy_time_s"] == pytest.approx(10.0)


def test_confidence_interval_against_hand_computed_values():
    stats = mean_ci95([1.0, 2.0, 3.0, 4.0])
    # sd = sqrt(5/3); t(0.975, 3 dof) = 3.182446
    assert stats["mean"] == 2.5
    assert stats["ci95_half_width"] == pytest.approx(3.182446 * math.sqrt(5 / 3) / 2, rel=1e-6)
    assert stats["ci95_low"] == pytest.approx(2.5 - stats["ci95_half_width"])
    assert mean_ci95([3.0])["ci95_half_width"] is None


def test_percentile_interpolates_like_numpy():
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10], 99) == 10
    assert percentile([0, 10], 90) == 9


def test_aggregate_over_repeats():
    runs = [run_figures(_tracked(cpu=c), _requests(), 1.0) for c in (0.01, 0.02, 0.03)]
    summary = aggregate(runs)
    assert summary["cpu_energy_kwh"]["mean"] == pytest.approx(0.02)
    assert summary["cpu_energy_kwh"]["n"] == 3
    assert summary["hardware_energy_kwh"]["ci95_half_width"] > 0


def _check(figures, scheduled=4, window=60.0, device="cpu"):
    check_run(figures, scheduled, window, device, max_duration_deviation=0.05)


def test_a_sound_run_passes():
    _check(run_figures(_tracked(), _requests(), 1.0))


def test_zero_energy_run_is_rejected():
    with pytest.raises(MeasurementError, match="cpu_energy_kwh is 0.0"):
        _check(run_figures(_tracked(cpu=0.0, ram=0.0, gpu=0.0), _requests(), 1.0))


def test_truncated_run_is_rejected():
    with pytest.raises(MeasurementError, match="33.3% off the 60 s window"):
        _check(run_figures(_tracked(duration=40.0), _requests(), 1.0))


def test_overloaded_run_is_rejected_with_the_knobs_to_turn():
    """Requests queued (mean lag 0.75 s) and the window overran: seen on a GPU where 100-token
    answers took longer than the mean interval between prompts."""
    with pytest.raises(MeasurementError, match="25.0% off.*raise energy.schedule.mean_interval_s"):
        _check(run_figures(_tracked(duration=75.0), _requests(), 1.0))


def test_truncated_run_gets_no_overload_hint():
    with pytest.raises(MeasurementError) as caught:
        _check(run_figures(_tracked(duration=40.0), _requests(), 1.0))
    assert "mean_interval_s" not in str(caught.value)


def test_run_missing_requests_is_rejected():
    with pytest.raises(MeasurementError, match="3 of 4 scheduled requests served"):
        _check(run_figures(_tracked(), _requests(latencies=(1.0, 2.0, 3.0)), 1.0))


@pytest.mark.parametrize("field,figure", [("cpu", "cpu_energy_kwh"), ("ram", "ram_energy_kwh"),
                                          ("gpu", "gpu_energy_kwh")])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -0.001])
def test_non_finite_or_negative_energy_is_rejected(field, figure, value):
    """NaN passed the old test (`not nan` and `nan <= 0` are both false)."""
    figures = run_figures(_tracked(**{field: value}), _requests(), 1.0)
    words = "negative" if value < 0 else "not a finite number"
    with pytest.raises(MeasurementError, match=f"{figure} is .*{words}"):
        _check(figures)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -60.0, 0.0])
def test_non_finite_negative_or_zero_duration_is_rejected(value):
    figures = run_figures(_tracked(duration=value), _requests(), 1.0)
    with pytest.raises(MeasurementError, match="duration_s is"):
        _check(figures)


def test_nan_hardware_energy_from_a_nan_correction_is_rejected():
    figures = run_figures(_tracked(), _requests(), float("nan"))
    with pytest.raises(MeasurementError, match="hardware_energy_kwh is nan, not a finite number"):
        _check(figures)


def test_gpu_setup_without_gpu_energy_is_rejected():
    with pytest.raises(MeasurementError, match="gpu_energy_kwh is 0.0 on a cuda setup"):
        _check(run_figures(_tracked(gpu=0.0), _requests(), 1.0), device="cuda")


def test_swallowed_codecarbon_failure_is_raised(tmp_path, monkeypatch):
    """Fault injection into the real CodeCarbon: its stop() swallows an internal exception and
    only logs it; the checked tracker must turn that into an error."""
    from codecarbon import OfflineEmissionsTracker

    from llm_footprint.energy.tracker import CheckedTracker, TrackerError

    def broken(self, *args, **kwargs):
        raise OSError("simulated sensor failure")

    settings = {"country_iso_code": "BEL", "measure_power_secs": 1, "tracking_mode": "process"}
    tracker = CheckedTracker(tmp_path, "emissions.csv", settings)
    tracker.start()
    monkeypatch.setattr(OfflineEmissionsTracker, "_measure_power_and_energy_if_stale", broken)
    with pytest.raises(TrackerError, match="simulated sensor failure"):
        tracker.stop()


def test_codecarbon_run_reports_positive_energy(tmp_path):
    """A real, short CodeCarbon run through the checked tracker writes its own CSV row."""
    import time

    from llm_footprint.energy.tracker import CheckedTracker, read_emissions_rows

    settings = {"country_iso_code": "BEL", "measure_power_secs": 1, "tracking_mode": "process"}
    tracker = CheckedTracker(tmp_path, "emissions.csv", settings)
    tracker.start()
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        sum(i * i for i in range(20000))
    data = tracker.stop()
    assert data["cpu_energy"] > 0 and data["ram_energy"] > 0 and 2 < data["duration"] < 5
    rows = read_emissions_rows(tmp_path / "emissions.csv")
    assert len(rows) == 1 and float(rows[0]["energy_consumed"]) > 0
