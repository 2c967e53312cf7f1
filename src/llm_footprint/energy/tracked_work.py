"""One piece of work measured under CodeCarbon, shared by the scenarios that are not a replay.

The timed replay (``measure.py``) measures a window of fixed length; the fixed-workload and
saturated scenarios measure a piece of work for as long as it takes. Both, and the idle window,
are measured by ``tracked_call``: the same tracker, foreign-load meter and NVML counter; the
scenarios and the replay share the energy checks and dynamic-energy arithmetic too.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .foreign_load import ForeignLoadMeter, check_foreign_load
from .summary import J_PER_KWH, MeasurementError, add_dynamic_energy, component_figures, energy_problems
from .tracker import CheckedTracker, NvmlEnergy

log = logging.getLogger(__name__)

MJ_PER_KWH = J_PER_KWH * 1000

# what a piece of work returns: at least the tokens it processed (output tokens for
# generation, scored tokens for perplexity)
WorkResult = dict[str, Any]


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def tracked_call(tracker: CheckedTracker, work: Callable[[], Any],
                 nvml: NvmlEnergy | None = None) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Run ``work()`` inside one measured window, the same for every measurement (idle
    window, replay repeat, piece of work): the foreign-load meter around the tracker, NVML's
    counter around both. Returns the work's result, CodeCarbon's final figures and the
    window's own: UTC start and end, wall time, foreign load and NVML's GPU energy."""
    nvml_start_mj = nvml.read_mj() if nvml is not None else None
    started_utc = utc_now()
    foreign = ForeignLoadMeter()
    foreign.start()
    tracker.start()
    started = time.perf_counter()
    result = work()
    wall_time_s = time.perf_counter() - started
    tracked = tracker.stop()
    window = {"started_utc": started_utc, "wall_time_s": wall_time_s, **foreign.stop()}
    nvml_end_mj = nvml.read_mj() if nvml is not None else None
    window["ended_utc"] = utc_now()
    window["nvml_gpu_energy_kwh"] = ((nvml_end_mj - nvml_start_mj) / MJ_PER_KWH
                                     if nvml_start_mj is not None else None)
    return result, tracked, window


@dataclass
class WorkMeter:
    """Measures pieces of work one after another into one emissions file."""

    folder: Path
    emissions_file: str
    tracker_settings: dict[str, Any]
    device: str
    max_foreign_cpu_share: float | None = None
    idle_power_w: float | None = None  # hardware W of the idle window, for dynamic energy
    nvml: NvmlEnergy = field(default_factory=NvmlEnergy)
    power_sources: list[dict[str, str]] = field(default_factory=list)

    def measure(self, work: Callable[[], WorkResult], experiment: str,
                emissions_file: str | None = None) -> dict[str, Any]:
        """Run ``work`` once under the tracker (its row into ``emissions_file``, by default the
        meter's); its figures, or MeasurementError."""
        factor = self.tracker_settings["ram_correction_factor"]
        tracker = CheckedTracker(self.folder, emissions_file or self.emissions_file,
                                 self.tracker_settings, experiment=experiment)
        result, tracked, window = tracked_call(tracker, work, self.nvml)
        sources = tracker.power_sources()
        self.power_sources.append(sources)

        figures = component_figures(tracked, factor)
        tokens = int(result["tokens"])
        wall_time_s = window["wall_time_s"]
        figures.update(
            **window, output_tokens=tokens,
            tokens_per_s=tokens / wall_time_s if wall_time_s > 0 else None,
            hardware_energy_per_output_token_j=(figures["hardware_energy_kwh"] * J_PER_KWH
                                                / tokens if tokens else None),
            **{k: v for k, v in result.items() if k != "tokens"},
            power_sources=sources)  # kept with the repeat: a resumed job reports them too
        if self.idle_power_w is not None:
            add_dynamic_energy(figures, self.idle_power_w)
        problems = energy_problems(figures, self.device)
        if not tokens:
            problems.append("the work processed no token")
        if problems:
            raise MeasurementError(f"{experiment}: energy run rejected: " + "; ".join(problems))
        check_foreign_load(figures, self.max_foreign_cpu_share, what=experiment)
        log.info("%s: %.1f s, hardware %.6f kWh, %d tokens, %.3g J/token", experiment,
                 wall_time_s, figures["hardware_energy_kwh"], tokens,
                 figures["hardware_energy_per_output_token_j"])
        return figures
