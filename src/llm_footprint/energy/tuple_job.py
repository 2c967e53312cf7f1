"""Rule measure_energy: every energy measurement of one (model, variant, setup) in one job.

The model is loaded and warmed up once, the idle window measured once, then the timed replay
(``energy.measure``) and each configured scenario (``energy.scenarios``) run on that loaded
model one after another, each writing its own folder atomically as soon as it is done. Loading,
warming up and idling per measurement instead cost the demo study about a fifth of its energy
stage and a cluster one model load per scenario.

Every measurement keeps its completed repeats in its ledger (``energy.repeats``) until all of
the job's folders are written: a job killed during its last scenario, rerun, resumes every
measurement from its ledger instead of measuring the finished ones again.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from ..loading import load_for_inference
from .measure import measure_energy
from .repeats import RepeatLedger
from .scenarios import measure_scenario
from .tracker import detect_hardware_in_background

log = logging.getLogger(__name__)


def replay_section(energy: dict[str, Any]) -> dict[str, Any]:
    """The energy section a replay depends on: everything but the scenarios."""
    return {k: v for k, v in energy.items() if k != "scenarios"}


def scenario_section(energy: dict[str, Any], scenario: str) -> dict[str, Any]:
    """The energy section one scenario depends on: the replay's settings and its own."""
    return {**replay_section(energy), "scenarios": {scenario: energy["scenarios"][scenario]}}


def measure_tuple(model_id: str, variant_id: str, setup_id: str, checkpoint_dir: str | Path,
                  schedule_json: str | Path, energy: dict[str, Any], setup: dict[str, Any],
                  out_dir: str | Path, scenario_dirs: dict[str, str | Path] | None = None,
                  quality: dict[str, Any] | None = None, threads: int = 1,
                  study_name: str | None = None) -> dict[str, Any]:
    """Replay into ``out_dir``, then each scenario of ``scenario_dirs`` (name -> its folder)
    into its folder, on one loaded model; the summaries by measurement name."""
    scenario_dirs = dict(scenario_dirs or {})
    unknown = sorted(set(scenario_dirs) - set(energy.get("scenarios") or {}))
    if unknown:
        raise ValueError(f"energy.scenarios has no {', '.join(unknown)} "
                         f"(configured: {', '.join(energy.get('scenarios') or {}) or 'none'})")
    if scenario_dirs and quality is None:
        raise ValueError("the scenarios need the quality section (their perplexity text)")
    started = time.monotonic()
    detection = detect_hardware_in_background(energy["tracker"])
    loaded = load_for_inference(checkpoint_dir, setup["device"], threads)
    detection.join()  # nothing of this process may run beside a measured window
    common = {"model_id": model_id, "variant_id": variant_id, "setup_id": setup_id,
              "checkpoint_dir": checkpoint_dir, "schedule_json": schedule_json, "setup": setup,
              "threads": threads, "study_name": study_name, "loaded": loaded,
              "keep_ledger": True}
    summaries = {"timed_replay": measure_energy(energy=replay_section(energy), out_dir=out_dir,
                                                **common)}
    idle = summaries["timed_replay"]["idle"]
    shared_idle = (idle, RepeatLedger.folder_of(out_dir)) if idle is not None else None
    for number, (name, folder) in enumerate(scenario_dirs.items(), start=1):
        log.info("scenario %s (%d of %d) on the model loaded for the replay", name, number,
                 len(scenario_dirs))
        summaries[name] = measure_scenario(name, energy=scenario_section(energy, name),
                                           quality=quality, out_dir=folder,
                                           shared_idle=shared_idle, **common)
    # only now: a kill before this point resumes every measurement from its ledger
    for folder in [out_dir, *scenario_dirs.values()]:
        RepeatLedger.discard_folder(folder)
    log.info("%d measurements of %s/%s/%s in %.1f s (one model load: %.1f s)", len(summaries),
             model_id, variant_id, setup_id, time.monotonic() - started, loaded.load_time_s)
    return summaries
