"""Energy scenarios beside the thesis's timed replay (``energy.measure``), one module each.

- ``fixed_workload``: the paper's: one named workload run back to back ``repeats`` times;
- ``saturated``: closed-loop generation at each batch size of a list, and the knee.

Both share the tracker, the sanity checks, the idle window for dynamic energy and the summary
format with the replay. Writes results/scenarios/{scenario}/{model}/{variant}/{setup}/
(emissions.csv, idle_emissions.csv, summary.json) atomically, as a whole folder.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ... import atomic, provenance
from ...loading import load_for_inference
from ...quality.evaluate import perplexity_text
from ...quality.task_sets import resolve_tasks
from ..measure import IDLE_EMISSIONS_FILE, IDLE_SERIES, SharedIdle, ledger_idle, measurement_fingerprint
from ..power_sources import combine as combine_power_sources
from ..repeats import RepeatLedger
from ..summary import aggregate, idle_power_w
from ..tracked_work import WorkMeter
from . import fixed_workload, saturated

log = logging.getLogger(__name__)

SCENARIOS = {"fixed_workload": fixed_workload.run, "saturated": saturated.run}
EMISSIONS_FILE = "emissions.csv"
SUMMARY_FILE = "summary.json"


def _context(schedule_json: str | Path, energy: dict[str, Any], quality: dict[str, Any],
             device: str, scenario: str) -> dict[str, Any]:
    schedule = json.loads(Path(schedule_json).read_text(encoding="utf-8"))
    context = {"prompts": [r["prompt"] for r in schedule["requests"]],
               "generation": energy["generation"], "device": device,
               "perplexity": quality["perplexity"]}
    settings = energy["scenarios"][scenario]
    if scenario == "fixed_workload" and settings["workload"] == "perplexity":
        text, source = perplexity_text(quality, resolve_tasks(quality))
        context.update(perplexity_text=text, perplexity_source=source)
    return context


def measure_scenario(scenario: str, model_id: str, variant_id: str, setup_id: str,
                     checkpoint_dir: str | Path, schedule_json: str | Path,
                     energy: dict[str, Any], quality: dict[str, Any], setup: dict[str, Any],
                     out_dir: str | Path, threads: int = 1, study_name: str | None = None,
                     loaded: Any = None, shared_idle: SharedIdle | None = None,
                     keep_ledger: bool = False) -> dict[str, Any]:
    """Run one scenario on one (model, variant, setup) and write its folder. ``loaded``,
    ``shared_idle``: the model and idle window of the job's replay
    (llm_footprint.energy.tuple_job); ``keep_ledger`` as in measure_energy."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown energy scenario {scenario!r} (scenarios: {', '.join(SCENARIOS)})")
    settings = energy["scenarios"][scenario]
    device = setup["device"]
    context = _context(schedule_json, energy, quality, device, scenario)
    if loaded is None:
        loaded = load_for_inference(checkpoint_dir, device, threads)
    label = f"{model_id}/{variant_id}/{setup_id}"
    ledger = RepeatLedger(out_dir, measurement_fingerprint(
        loaded, {"energy": {k: v for k, v in energy.items() if k != "scenarios"},
                 "scenario": settings, "setup": setup, "quality": quality}))
    context.update(ledger=ledger, energy=energy)
    idle = ledger_idle(ledger, energy, shared_idle)
    meter = WorkMeter(ledger.folder, EMISSIONS_FILE, energy["tracker"], device,
                      max_foreign_cpu_share=energy.get("max_foreign_cpu_share"),
                      idle_power_w=(idle_power_w(idle, energy["tracker"]["ram_correction_factor"])
                                    if idle else None))
    result = SCENARIOS[scenario](meter, loaded, settings, context, label)
    # how each repeat's components were obtained, resumed repeats' included (their records)
    sources = [run.pop("power_sources") for run in result["runs"] if "power_sources" in run]
    with atomic.staged_directory(out_dir) as staging:
        ledger.merge_emissions(staging / EMISSIONS_FILE, list(result["precision"]))
        if idle is not None:
            ledger.merge_emissions(staging / IDLE_EMISSIONS_FILE, [IDLE_SERIES])
        summary = {
            "study": study_name, "scenario": scenario, "model": model_id, "variant": variant_id,
            "setup": setup_id, "device": device, "dtype": loaded.dtype,
            "cpu_capability": loaded.details["cpu_capability"], "loader": loaded.details,
            "load_time_s": round(loaded.load_time_s, 3),
            "ram_correction_factor": energy["tracker"]["ram_correction_factor"],
            **result,
            "aggregate": aggregate(result["runs"]),
            "idle": idle,
            # the replay's window, measured once for the job: counted once in its footprint
            "idle_shared_with": "timed_replay" if shared_idle is not None else None,
            "power_sources": combine_power_sources(sources or meter.power_sources),
            "nvml": {"available": meter.nvml.available, "error": meter.nvml.error},
            "provenance": provenance.collect(
                config={"energy": energy, "scenario": settings, "setup": setup,
                        "manifest": loaded.manifest},
                seed=energy["generation"]["seed"]),
        }
        atomic.write_json(staging / SUMMARY_FILE, summary)
    if not keep_ledger:
        ledger.discard()
    return summary
