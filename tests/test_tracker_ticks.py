"""A window stopped on one of CodeCarbon's periodic measurements counts its energy once.

CodeCarbon measures every ``measure_power_secs`` on a timer thread and once more when it
stops; its ``stop`` did not wait for a periodic measurement already running, and both added
the energy since the same instant. Without ``CheckedTracker``'s guard, 1 s windows on a 1 s
period came out with twice their RAM energy on every try (a real tracker, RAM power forced to
a known value so that the expected energy is power x duration on any machine).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from llm_footprint.energy.tracker import CheckedTracker, TrackerError

RAM_POWER_W = 10.0
SETTINGS = {"country_iso_code": "BEL", "measure_power_secs": 1, "tracking_mode": "process",
            "force_ram_power_w": RAM_POWER_W}


@pytest.mark.parametrize("seconds", [1.0, 2.0])
def test_window_on_a_measurement_tick_counts_its_energy_once(tmp_path, seconds):
    ram_watts = []
    for attempt in range(3):
        tracker = CheckedTracker(tmp_path, f"emissions-{seconds}-{attempt}.csv", SETTINGS)
        tracker.start()
        time.sleep(seconds)  # ends as the periodic measurement of second `seconds` runs
        data = tracker.stop()
        ram_watts.append(float(data["ram_energy"]) * 3.6e6 / float(data["duration"]))
    print(f"\n{seconds:.0f} s windows: RAM {', '.join(f'{w:.2f}' for w in ram_watts)} W "
          f"(forced {RAM_POWER_W:.0f} W)")
    assert ram_watts == pytest.approx([RAM_POWER_W] * 3, rel=0.03)


def test_a_tracker_without_the_scheduler_is_refused():
    from llm_footprint.energy.tracker import _TickGuard

    with pytest.raises(TrackerError, match="no periodic scheduler"):
        _TickGuard(object())


def test_hardware_detected_in_the_background_serves_the_first_measured_window(tmp_path):
    """An energy job starts CodeCarbon's hardware detection while it loads the model: the
    detection fills CodeCarbon's per-process cache for the trackers' settings (so the first
    measured window does not run it) and writes no emissions file. A real tracker; the cache
    is CodeCarbon's own (codecarbon is pinned)."""
    from codecarbon.core import hardware_cache

    from llm_footprint.energy.tracker import detect_hardware_in_background

    settings = {**SETTINGS, "force_ram_power_w": RAM_POWER_W + 1}  # a key no test has used
    before = set(hardware_cache._plans)
    detect_hardware_in_background(settings).join(timeout=60)
    added = set(hardware_cache._plans) - before
    assert len(added) == 1, "the detection cached no hardware plan"
    assert not list(tmp_path.iterdir()) and not list(Path.cwd().glob("emissions*.csv"))

    tracker = CheckedTracker(tmp_path, "emissions.csv", settings)
    tracker.start()
    time.sleep(1.0)
    data = tracker.stop()
    assert set(hardware_cache._plans) - before == added, "the window detected the hardware again"
    assert float(data["ram_energy"]) * 3.6e6 / float(data["duration"]) == pytest.approx(
        RAM_POWER_W + 1, rel=0.03)


def test_cpu_model_looked_up_once_beside_the_imports(tmp_path):
    """A tracked job starts CodeCarbon's CPU model lookup (py-cpuinfo's child process, about
    1 s) before its imports; a tracker started while the lookup still runs waits for it instead
    of looking the CPU up a second time. In a fresh process, so that no earlier tracker has
    filled CodeCarbon's cache; a real tracker started at once after the lookup."""
    import subprocess
    import sys

    script = f"""
import json, pathlib
from codecarbon.core.util import detect_cpu_model
from llm_footprint.energy.tracker import CheckedTracker, look_up_cpu_model_in_background
look_up_cpu_model_in_background()
tracker = CheckedTracker(pathlib.Path({str(tmp_path)!r}), "emissions.csv", {SETTINGS!r})
tracker.start()
tracker.stop()
info = detect_cpu_model.cache_info()
print(json.dumps({{"misses": info.misses, "hits": info.hits}}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=True)
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    assert counts["misses"] == 1, f"the CPU was looked up {counts['misses']} times"
    assert counts["hits"] >= 1, "the tracker did not use the lookup's answer"
