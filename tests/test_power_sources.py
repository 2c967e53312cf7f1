"""Measured or estimated, per component, read from CodeCarbon's own hardware objects."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from llm_footprint.energy.power_sources import combine, power_sources
from llm_footprint.energy.tracker import CheckedTracker

SETTINGS = {"country_iso_code": "BEL", "measure_power_secs": 1, "tracking_mode": "process"}
NO_RAPL = not os.path.exists("/sys/class/powercap")


@pytest.fixture
def fresh_codecarbon_setup():
    """CodeCarbon caches its hardware choice per process and settings: start and end clean."""
    from codecarbon.core import hardware_cache

    hardware_cache.clear_cache()
    yield
    hardware_cache.clear_cache()


def _run(tmp_path: Path, settings: dict, seconds: float = 1.2) -> CheckedTracker:
    tracker = CheckedTracker(tmp_path, "emissions.csv", settings)
    tracker.start()
    time.sleep(seconds)
    tracker.stop()
    return tracker


@pytest.mark.skipif(not NO_RAPL, reason="this machine exposes /sys/class/powercap")
def test_without_rapl_cpu_and_ram_are_estimated(tmp_path, fresh_codecarbon_setup):
    sources = _run(tmp_path, SETTINGS).power_sources()
    assert sources["cpu"].startswith("estimated: CodeCarbon CPU load model (process CPU time")
    assert sources["ram"].startswith("estimated: CodeCarbon RAM model")
    assert sources["gpu"] == "absent" or sources["gpu"].startswith("measured: NVML")


@pytest.mark.skipif(not NO_RAPL, reason="this machine exposes /sys/class/powercap")
def test_forced_powers_are_labelled_as_such(tmp_path, fresh_codecarbon_setup):
    """CodeCarbon 3.3.2 keeps the load model with a forced CPU power (as its TDP); RAM is flat."""
    sources = _run(tmp_path, {**SETTINGS, "force_cpu_power_w": 30,
                              "force_ram_power_w": 3}).power_sources()
    assert sources["cpu"] == ("estimated: CodeCarbon CPU load model "
                              "(process CPU time share x forced 30 W (force_cpu_power))")
    assert sources["ram"] == "constant: forced 3 W (force_ram_power)"


def _fake_rapl(root: Path) -> Path:
    """A powercap tree as Linux lays it out: <dir>/intel-rapl:0/{name,energy_uj,max_...}."""
    domain = root / "powercap" / "intel-rapl:0"
    domain.mkdir(parents=True)
    (domain / "name").write_text("package-0\n")
    (domain / "energy_uj").write_text("1000000\n")
    (domain / "max_energy_range_uj").write_text("262143328850\n")
    return root / "powercap"


def test_readable_rapl_file_is_labelled_measured(tmp_path, monkeypatch, fresh_codecarbon_setup):
    """CodeCarbon hard-codes /sys/class/powercap/intel-rapl/subsystem in its RAPL probe and in
    CPU's default ``rapl_dir``; both are pointed at a fake tree whose counter grows 5 J/s."""
    from codecarbon.core import cpu as cc_cpu
    from codecarbon.external.hardware import CPU

    rapl_dir = _fake_rapl(tmp_path)
    probe = cc_cpu.is_rapl_available
    monkeypatch.setattr(cc_cpu, "is_rapl_available", lambda rapl_dir_=None: probe(str(rapl_dir)))
    defaults = list(CPU.__init__.__defaults__)
    defaults[0] = str(rapl_dir)  # rapl_dir is the first parameter with a default
    monkeypatch.setattr(CPU.__init__, "__defaults__", tuple(defaults))

    stop = threading.Event()

    def count() -> None:
        energy_uj = 1_000_000
        while not stop.wait(0.1):
            energy_uj += 500_000
            (rapl_dir / "intel-rapl:0" / "energy_uj").write_text(f"{energy_uj}\n")

    counter = threading.Thread(target=count, daemon=True)
    counter.start()
    try:
        tracker = CheckedTracker(tmp_path / "out", "emissions.csv", SETTINGS)
        (tmp_path / "out").mkdir()
        tracker.start()
        time.sleep(2.2)
        data = tracker.stop()
    finally:
        stop.set()
        counter.join()
    sources = tracker.power_sources()
    assert sources["cpu"] == "measured: RAPL"
    assert sources["ram"].startswith("estimated: CodeCarbon RAM model")
    # the energy came from the fake counter (which grows 5 J/s; how much of it CodeCarbon saw
    # depends on when its sampling thread ran, so only its presence is asserted)
    assert 0 < data["cpu_energy"] * 3.6e6 / data["duration"] <= 5.0 * 1.5


def test_labels_of_hand_built_hardware():
    """Every branch of the classification on stand-ins carrying CodeCarbon's attribute names."""
    class RAM:
        _force_ram_power = None
        _tracking_mode = "machine"

    class CPU:
        _mode = "constant"
        _tdp = 65
        _tracking_mode = "machine"

    class NvidiaGPUDevice:
        gpu_index = 0
        _use_power_fallback = True

    class Devices:
        devices = [NvidiaGPUDevice()]

    class GPU:
        devices = Devices()
        gpu_ids = [0]

    class Tracker:
        _hardware = [RAM(), CPU(), GPU()]
        _force_cpu_power = None

    sources = power_sources(Tracker())
    assert sources == {"cpu": "estimated: CodeCarbon constant, half of a 65 W TDP",
                       "gpu": "measured: NVML power readings",
                       "ram": "estimated: CodeCarbon RAM model (5 W per DIMM, 10 W min, of the "
                              "machine memory)"}
    NvidiaGPUDevice._use_power_fallback = False
    assert power_sources(Tracker())["gpu"] == "measured: NVML energy counter"
    GPU.gpu_ids = [1]  # the device is not a tracked one
    assert power_sources(Tracker())["gpu"] == "absent"
    assert power_sources(object())["cpu"].startswith("unknown:")


def test_combine_keeps_one_label_per_component():
    run = {"cpu": "measured: RAPL", "gpu": "absent", "ram": "estimated: x"}
    assert combine([run, dict(run)]) == run
    assert combine([run, {**run, "cpu": "estimated: y"}])["cpu"] == "measured: RAPL | estimated: y"


def test_energy_table_has_the_source_columns(tmp_path):
    from llm_footprint.tables import energy_rows

    summary = {"model": "m", "variant": "v", "setup": "s", "device": "cpu", "runs": [{}],
               "schedule": {"n_requests": 3}, "ram_correction_factor": 1.0, "aggregate": {},
               "power_sources": {"cpu": "estimated: a", "gpu": "absent", "ram": "constant: b"}}
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(summary))
    row = energy_rows([path])[0]
    assert (row["cpu_power_source"], row["gpu_power_source"], row["ram_power_source"]) == (
        "estimated: a", "absent", "constant: b")
