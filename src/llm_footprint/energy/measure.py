"""Rule measure_energy: replay the study's schedule on one (model, variant, setup) under CodeCarbon.

Writes, into results/energy/{model}/{variant}/{setup}/ (atomically, as a whole folder):
- emissions.csv: CodeCarbon's own file, untouched (one row per repeat);
- requests.jsonl: arrival, start, end, lag, latency and token counts of every request;
- summary.json: per-run figures, their mean and 95 % interval, and the provenance.
A run that fails a sanity check raises, and nothing is written.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from .. import atomic, provenance
from ..checkpoint_info import sha256_file
from ..loading import load_for_inference
from .foreign_load import check_foreign_load
from .power_sources import combine as combine_power_sources
from .repeats import Precision, RepeatLedger, run_repeats
from .replay import make_generate, replay
from .summary import J_PER_KWH, add_dynamic_energy, aggregate, check_run, idle_power_w, run_figures
from .token_timing import token_latency_figures
from .tracked_work import tracked_call
from .tracker import CheckedTracker, NvmlEnergy

log = logging.getLogger(__name__)

EMISSIONS_FILE = "emissions.csv"
IDLE_EMISSIONS_FILE = "idle_emissions.csv"
REQUESTS_FILE = "requests.jsonl"
SUMMARY_FILE = "summary.json"
IDLE_SERIES = "idle"
REPLAY_SERIES = "replay"
HEADLINE = "hardware_energy_per_output_token_j"  # the replay's: energy per output token


def measure_idle(folder: Path, tracker_settings: dict[str, Any], seconds: float,
                 max_foreign_cpu_share: float | None = None,
                 emissions_file: str = IDLE_EMISSIONS_FILE) -> dict[str, Any]:
    """Power with the model loaded and nothing to do, to split idle from dynamic energy."""
    tracker = CheckedTracker(folder, emissions_file, tracker_settings, experiment="idle")
    _, data, window = tracked_call(tracker, lambda: time.sleep(seconds))
    duration_s = float(data["duration"])
    idle = {"duration_s": duration_s, "power_sources": tracker.power_sources(),
            **{k: v for k, v in window.items() if k not in ("wall_time_s", "nvml_gpu_energy_kwh")}}
    check_foreign_load(idle, max_foreign_cpu_share, what="idle window")
    for part in ("cpu", "gpu", "ram"):
        idle[f"{part}_energy_kwh"] = float(data[f"{part}_energy"])
        idle[f"{part}_power_w"] = float(data[f"{part}_energy"]) * J_PER_KWH / duration_s
    return idle


IDLE_SLICE_SERIES = "idle_slice"
IDLE_HEADLINE = "idle_power_w"  # hardware power of an idle slice, RAM corrected (W)


def idle_precision(energy: dict[str, Any]) -> Precision | None:
    """When a sliced idle window stops (``energy.idle_precision``): after ``min_slices`` once
    the idle power's 95 % interval is within ``target``, at the latest when ``idle_window_s``
    is used up; None for one unbroken window of ``idle_window_s``."""
    gate = energy.get("idle_precision")
    if not gate or energy["idle_window_s"] <= 0:
        return None
    most = max(int(gate["min_slices"]), int(energy["idle_window_s"] // gate["slice_s"]))
    return Precision(gate["target"], int(gate["min_slices"]), most)


def combine_idle_slices(slices: list[dict[str, Any]]) -> dict[str, Any]:
    """One idle record from consecutive slices, shaped like an unbroken window's: energies,
    durations and CPU core-seconds summed, powers over the summed duration, the first start and
    the last end, the largest foreign load, and each slice's power."""
    duration_s = sum(s["duration_s"] for s in slices)
    idle = {"duration_s": duration_s, "power_sources": slices[0]["power_sources"],
            "started_utc": slices[0]["started_utc"], "ended_utc": slices[-1]["ended_utc"],
            **{key: sum(s[key] for s in slices)
               for key in ("foreign_cpu_core_s", "own_cpu_core_s", "system_cpu_core_s")},
            "foreign_cpu_share": max(s["foreign_cpu_share"] for s in slices)}
    for part in ("cpu", "gpu", "ram"):
        idle[f"{part}_energy_kwh"] = sum(s[f"{part}_energy_kwh"] for s in slices)
        idle[f"{part}_power_w"] = idle[f"{part}_energy_kwh"] * J_PER_KWH / duration_s
    idle["slices"] = [{"duration_s": s["duration_s"], IDLE_HEADLINE: s[IDLE_HEADLINE]}
                      for s in slices]
    return idle


def measure_gated_idle(ledger: RepeatLedger, energy: dict[str, Any],
                       precision: Precision) -> dict[str, Any]:
    """The idle window as slices of ``idle_precision.slice_s``, each under its own tracker and
    kept in the ledger as it completes, until the idle power is known to its target."""
    factor = energy["tracker"]["ram_correction_factor"]

    def measure_slice(repeat: int, emissions_file: str) -> dict[str, Any]:
        record = measure_idle(ledger.folder, energy["tracker"],
                              energy["idle_precision"]["slice_s"],
                              energy.get("max_foreign_cpu_share"), emissions_file=emissions_file)
        return {**record, IDLE_HEADLINE: idle_power_w(record, factor)}

    slices, achieved = run_repeats(ledger, IDLE_SLICE_SERIES, precision, IDLE_HEADLINE,
                                   measure_slice)
    idle = {**combine_idle_slices(slices), "precision": achieved}
    log.info("idle: %.3f W over %d slices (%.1f s), 95 %% half-width %s of the mean",
             idle_power_w(idle, factor), len(slices), idle["duration_s"],
             "n/a" if achieved["ci95_rel_half_width"] is None
             else f"{achieved['ci95_rel_half_width']:.2%}")
    ledger.merge_emissions(ledger.folder / ledger.emissions_file(IDLE_SERIES, 1),
                           [IDLE_SLICE_SERIES])
    return idle


# an idle window measured for one output of a job, and the ledger folder holding it
SharedIdle = tuple[dict[str, Any], Path]


def ledger_idle(ledger: RepeatLedger, energy: dict[str, Any],
                shared: SharedIdle | None = None) -> dict[str, Any] | None:
    """The idle window of a measurement, measured once and kept in its ledger (a resumed job
    keeps the idle power its earlier repeats' dynamic energy was computed with). ``shared``:
    the window another output of the same job (same model, loaded once) measured, adopted
    instead of idling again."""
    if energy["idle_window_s"] <= 0:
        return None
    done = ledger.completed(IDLE_SERIES)
    if done:
        return done[0]
    if shared is not None:
        record, source = shared
        ledger.adopt(IDLE_SERIES, 1, record, source)
        return record
    gate = idle_precision(energy)
    if gate is not None:
        idle = measure_gated_idle(ledger, energy, gate)
    else:
        idle = measure_idle(ledger.folder, energy["tracker"], energy["idle_window_s"],
                            energy.get("max_foreign_cpu_share"),
                            emissions_file=ledger.emissions_file(IDLE_SERIES, 1))
    ledger.save(IDLE_SERIES, 1, idle)
    return idle


def measurement_fingerprint(loaded: Any, config: dict[str, Any]) -> dict[str, Any]:
    """What completed repeats must share with a resumed job to be kept: the checkpoint, the
    config section, the hardware (not the node's name: a requeue may land on a twin) and the
    libraries' versions."""
    hardware = {k: v for k, v in provenance.hardware().items()
                if k not in ("hostname", "slurm_job_id", "slurm_partition")}
    # how many repeats is not what a repeat measures: raising max_repeats keeps the done ones
    config = json.loads(json.dumps(config, default=str))
    for section in (config, *config.values(), *config.get("energy", {}).get("scenarios", {}).values()):
        if isinstance(section, dict):
            for key in ("precision", "repeats"):
                section.pop(key, None)
    return {"checkpoint": loaded.manifest, "dtype": loaded.dtype, "config": config,
            "hardware": hardware, "versions": provenance.package_versions()}


DEFAULT_MAX_NVML_GAP = 0.10
CODECARBON_KEYS = ("cpu_model", "gpu_model", "cpu_count", "gpu_count", "tracking_mode",
                   "codecarbon_version", "ram_total_size", "country_iso_code")


def peak_memory(device: str) -> dict[str, float | None]:
    """Peak memory of this job so far (MB): the process's resident set (loading included) and,
    on CUDA, the most the allocator held; shown beside the feasibility estimate."""
    import resource

    import torch

    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    gpu_mb = (torch.cuda.max_memory_allocated() / 2**20
              if device == "cuda" and torch.cuda.is_available() else None)
    return {"rss_mb": round(rss_mb, 1), "gpu_allocated_mb": gpu_mb}


def nvml_gap(runs: list[dict[str, Any]], max_gap: float) -> dict[str, Any] | None:
    """CodeCarbon's GPU energy against NVML's energy counter, per run: (CodeCarbon - NVML) /
    NVML; flagged when a run's gap exceeds ``max_gap`` (energy.max_nvml_gap) either way."""
    gaps = [(run["gpu_energy_kwh"] - run["nvml_gpu_energy_kwh"]) / run["nvml_gpu_energy_kwh"]
            for run in runs if run.get("nvml_gpu_energy_kwh")]
    if not gaps:
        return None
    flagged = any(abs(gap) > max_gap for gap in gaps)
    if flagged:
        log.warning("CodeCarbon's GPU energy differs from NVML's counter by up to %.1f %% "
                    "(energy.max_nvml_gap = %g)", 100 * max(gaps, key=abs), max_gap)
    return {"per_run": gaps, "max_abs": max(abs(g) for g in gaps), "limit": max_gap,
            "flagged": flagged}


def _measure_repeat(repeat: int, tracker: Any, nvml: Any, requests: list[dict[str, Any]],
                    generate: Any, window_s: float, factor: float,
                    idle: dict[str, Any] | None) -> tuple[dict[str, Any], list, dict[str, Any]]:
    """One replay of the schedule under the tracker: its figures, served requests and the
    tracker's record."""
    (served, elapsed_s), tracked, window = tracked_call(
        tracker, lambda: replay(requests, generate, window_s), nvml)
    figures = run_figures(tracked, served, factor)
    figures.update(token_latency_figures(served))
    window.pop("wall_time_s")  # the replay's own clock: replay_elapsed_s
    figures.update(repeat=repeat, replay_elapsed_s=elapsed_s, **window)
    if idle:
        add_dynamic_energy(figures, idle_power_w(idle, factor))
    log.info("repeat %d: hardware %.6f kWh (CPU %.6f, GPU %.6f, RAM %.6f x %g) over %.1f s",
             repeat, figures["hardware_energy_kwh"], figures["cpu_energy_kwh"],
             figures["gpu_energy_kwh"], figures["ram_energy_kwh"], factor, figures["duration_s"])
    return figures, served, tracked


def measure_energy(model_id: str, variant_id: str, setup_id: str, checkpoint_dir: str | Path,
                   schedule_json: str | Path, energy: dict[str, Any], setup: dict[str, Any],
                   out_dir: str | Path, threads: int = 1, study_name: str | None = None,
                   loaded: Any = None, keep_ledger: bool = False) -> dict[str, Any]:
    """Replay the schedule until its precision says stop and write ``out_dir``. ``loaded``: the
    model already loaded by the job (llm_footprint.energy.tuple_job); ``keep_ledger``: leave
    the completed repeats for the job to discard once all its outputs are written."""
    schedule = json.loads(Path(schedule_json).read_text(encoding="utf-8"))
    requests = schedule["requests"]
    window_s = float(schedule["duration_s"])
    tracker_settings = energy["tracker"]
    factor = tracker_settings["ram_correction_factor"]
    device = setup["device"]

    if loaded is None:
        loaded = load_for_inference(checkpoint_dir, device, threads)
    generate = make_generate(loaded.model, loaded.tokenizer, energy["generation"], device)
    warmup_started = time.monotonic()
    for request in requests[: energy["warmup_requests"]]:
        generate(request["prompt"], request["index"])  # first forwards may compile kernels
    warmup_s = time.monotonic() - warmup_started
    log.info("warm-up: %d requests in %.1f s", min(energy["warmup_requests"], len(requests)),
             warmup_s)

    nvml = NvmlEnergy()
    precision = Precision.of(energy)
    ledger = RepeatLedger(out_dir, measurement_fingerprint(
        loaded, {"energy": energy, "setup": setup, "schedule": sha256_file(schedule_json)}))

    def measure_repeat(repeat: int, emissions_file: str) -> dict[str, Any]:
        log.info("repeat %d (at most %d): %d requests over %.0f s", repeat,
                 precision.max_repeats, len(requests), window_s)
        tracker = CheckedTracker(ledger.folder, emissions_file, tracker_settings,
                                 experiment=f"{model_id}/{variant_id}/{setup_id}/{repeat}")
        figures, served, tracked = _measure_repeat(repeat, tracker, nvml, requests, generate,
                                             window_s, factor, idle)
        check_run(figures, len(requests), window_s, device, energy["max_duration_deviation"])
        check_foreign_load(figures, energy.get("max_foreign_cpu_share"))
        return {**figures, "power_sources": tracker.power_sources(),
                "codecarbon": {k: tracked.get(k) for k in CODECARBON_KEYS},
                "served": [{"repeat": repeat, **record} for record in served]}

    idle = ledger_idle(ledger, energy)
    done, achieved = run_repeats(ledger, REPLAY_SERIES, precision, HEADLINE, measure_repeat)
    runs = [{k: v for k, v in r.items() if k not in ("served", "power_sources", "codecarbon")}
            for r in done]
    sources = [r["power_sources"] for r in done]  # how CodeCarbon obtained each component
    records = [record for r in done for record in r["served"]]
    with atomic.staged_directory(out_dir) as staging:
        ledger.merge_emissions(staging / EMISSIONS_FILE, [REPLAY_SERIES])
        if idle is not None:
            ledger.merge_emissions(staging / IDLE_EMISSIONS_FILE, [IDLE_SERIES])
        atomic.write_jsonl(staging / REQUESTS_FILE, records)
        summary = {
            "study": study_name, "model": model_id, "variant": variant_id, "setup": setup_id,
            "device": device, "dtype": loaded.dtype,
            "cpu_capability": loaded.details["cpu_capability"], "loader": loaded.details,
            "load_time_s": round(loaded.load_time_s, 3),
            "warmup": {"requests": min(energy["warmup_requests"], len(requests)),
                       "wall_time_s": round(warmup_s, 3)},
            "schedule": {"n_requests": len(requests), "duration_s": window_s,
                         "mean_interval_s": schedule["mean_interval_s"],
                         "arrival_process": schedule["arrival_process"],
                         "seed": schedule["seed"], "sha256": sha256_file(schedule_json)},
            "ram_correction_factor": factor,
            "peak_memory": peak_memory(device),
            "nvml_gap": nvml_gap(runs, energy.get("max_nvml_gap", DEFAULT_MAX_NVML_GAP)),
            "power_sources": combine_power_sources(sources),
            "runs": runs,
            "aggregate": aggregate(runs),
            "idle": idle,
            "nvml": {"available": nvml.available, "error": nvml.error},
            "precision": achieved,
            "codecarbon": done[-1]["codecarbon"],
            "provenance": provenance.collect(config={"energy": energy, "setup": setup,
                                                     "manifest": loaded.manifest},
                                             seed=energy["generation"]["seed"]),
        }
        atomic.write_json(staging / SUMMARY_FILE, summary)
    if not keep_ledger:
        ledger.discard()
    return summary
