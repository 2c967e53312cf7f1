"""Foreign CPU load during a measured window: arithmetic, a real CPU burner, the rejection."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from llm_footprint.energy.foreign_load import (
    CpuSample,
    ForeignLoadMeter,
    check_foreign_load,
    foreign_load,
    tree_cpu_s,
)
from llm_footprint.energy.summary import MeasurementError


def test_foreign_load_from_synthetic_samples():
    start = CpuSample(wall_s=100.0, system_cpu_s=5000.0, own_cpu_s=20.0)
    end = CpuSample(wall_s=110.0, system_cpu_s=5016.0, own_cpu_s=29.0)
    # 16 core-s busy on the machine, 9 of them ours: 7 core-s foreign over 10 s
    figures = foreign_load(start, end)
    assert figures["foreign_cpu_core_s"] == pytest.approx(7.0)
    assert figures["foreign_cpu_share"] == pytest.approx(0.7)
    assert figures["own_cpu_core_s"] == pytest.approx(9.0)
    assert figures["system_cpu_core_s"] == pytest.approx(16.0)


def test_tick_noise_never_makes_foreign_load_negative():
    start = CpuSample(wall_s=0.0, system_cpu_s=10.0, own_cpu_s=1.0)
    end = CpuSample(wall_s=2.0, system_cpu_s=11.98, own_cpu_s=3.0)
    assert foreign_load(start, end)["foreign_cpu_core_s"] == 0.0


def test_empty_window_is_an_error():
    with pytest.raises(ValueError):
        foreign_load(CpuSample(1.0, 0.0, 0.0), CpuSample(1.0, 0.0, 0.0))


def test_check_names_the_key_and_passes_below_it():
    quiet = {"foreign_cpu_core_s": 0.3, "foreign_cpu_share": 0.1}
    check_foreign_load(quiet, 0.5)
    check_foreign_load({"foreign_cpu_core_s": 9.0, "foreign_cpu_share": 3.0}, None)  # no limit
    with pytest.raises(MeasurementError, match=r"0\.90 of a core.*energy\.max_foreign_cpu_share"):
        check_foreign_load({"foreign_cpu_core_s": 9.0, "foreign_cpu_share": 0.9}, 0.5)
    with pytest.raises(MeasurementError, match="energy.max_foreign_cpu_share cannot be checked"):
        check_foreign_load({}, 0.5)


def test_own_children_are_not_foreign():
    """A child of this process burning CPU counts as the job's own time, also once it ended."""
    before = tree_cpu_s()
    child = subprocess.Popen([sys.executable, "-c",
                              "import time\nend = time.monotonic() + 1.0\n"
                              "while time.monotonic() < end: pass"])
    try:
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert tree_cpu_s() - before > 0.5  # the reaped child's second is in children_user/system


def test_a_cpu_burning_process_beside_the_window_is_rejected():
    """A busy loop started outside this process tree (by a shell that exits at once, so that
    the burner is re-parented away from us) keeps one core busy beside a 3 s window."""
    launcher = subprocess.run(
        ["sh", "-c", f"timeout 30 {sys.executable} -c 'while True: pass' >/dev/null 2>&1 & "
                     "echo $!"], capture_output=True, text=True, check=True)
    burner = int(launcher.stdout.strip())
    try:
        time.sleep(0.3)  # let it start
        meter = ForeignLoadMeter()
        meter.start()
        time.sleep(3.0)
        figures = meter.stop()
    finally:
        subprocess.run(["kill", str(burner)], check=False)
    assert figures["foreign_cpu_share"] > 0.5, figures
    assert figures["foreign_cpu_core_s"] > 1.5
    assert figures["own_cpu_core_s"] < 0.5
    with pytest.raises(MeasurementError, match="energy.max_foreign_cpu_share"):
        check_foreign_load(figures, 0.5)


def test_idle_window_beside_a_cpu_burner_is_rejected_naming_the_key(tmp_path):
    """The real measurement path: CodeCarbon's idle window with the foreign-load check."""
    from llm_footprint.energy.measure import measure_idle

    settings = {"country_iso_code": "BEL", "measure_power_secs": 1, "tracking_mode": "process"}
    launcher = subprocess.run(
        ["sh", "-c", f"timeout 30 {sys.executable} -c 'while True: pass' >/dev/null 2>&1 & "
                     "echo $!"], capture_output=True, text=True, check=True)
    burner = int(launcher.stdout.strip())
    try:
        time.sleep(0.3)
        with pytest.raises(MeasurementError, match="idle window rejected.*"
                                                   "energy.max_foreign_cpu_share = 0.5"):
            measure_idle(tmp_path, settings, 2.5, max_foreign_cpu_share=0.5)
    finally:
        subprocess.run(["kill", str(burner)], check=False)
