"""What the study itself costs: every heavy job (prepare, compress, compress steps, evaluate) runs
under a CodeCarbon tracker of its own, sampling coarsely, and leaves a small JSON record.

The energy measurements keep their own trackers (their windows are measured as figures of the
study); this one never wraps them. The record is written atomically after the job's own outputs,
so a killed job leaves none; a tracker that fails raises (CheckedTracker), and a zero energy is
refused, as in every measurement of the project.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import atomic, provenance
from .energy.summary import component_figures, energy_problems
from .energy.tracker import CheckedTracker

log = logging.getLogger(__name__)


@contextlib.contextmanager
def tracked_job(out_json: str | Path, rule: str, wildcards: dict[str, str],
                footprint: dict[str, Any], device: str, gpus: int = 0) -> Iterator[None]:
    """Run the block under CodeCarbon and write ``out_json`` when it succeeds.

    ``footprint``: the study's ``footprint`` section with the tracker settings it inherits
    (country, tracking mode, forced powers) from ``energy.tracker``."""
    if not footprint["enabled"]:
        started = time.monotonic()
        yield
        _write(out_json, {"rule": rule, "wildcards": wildcards, "tracked": False,
                          "wall_time_s": round(time.monotonic() - started, 3),
                          "device": device, "gpus": gpus})
        return
    settings = {**footprint["tracker"], "measure_power_secs": footprint["measure_power_secs"]}
    with tempfile.TemporaryDirectory(prefix="llm-footprint-job-") as folder:
        tracker = CheckedTracker(Path(folder), "emissions.csv", settings, experiment=rule)
        tracker.start()
        started = time.monotonic()
        try:
            yield
        except BaseException:
            with contextlib.suppress(Exception):
                tracker.stop()  # the job's own error is what the log must show
            raise
        data = tracker.stop()
        wall_time_s = time.monotonic() - started
    figures = component_figures(data, footprint["ram_correction_factor"])
    problems = energy_problems(figures, device)
    if problems:
        raise RuntimeError(f"the {rule} job's own footprint came back unusable: "
                           + "; ".join(problems))
    record = {"rule": rule, "wildcards": wildcards, "tracked": True,
              "wall_time_s": round(wall_time_s, 3), "device": device, "gpus": gpus,
              "gpu_hours": round(gpus * wall_time_s / 3600, 6), **figures,
              "power_sources": tracker.power_sources(),
              "tracker": {k: settings.get(k) for k in ("measure_power_secs", "tracking_mode",
                                                      "country_iso_code")},
              "provenance": provenance.collect(config={"footprint": footprint})}
    log.info("job footprint: %.3g kWh over %.0f s (%s)", figures["hardware_energy_kwh"],
             wall_time_s, rule)
    _write(out_json, record)


def _write(out_json: str | Path, record: dict[str, Any]) -> None:
    atomic.write_json(out_json, record)
