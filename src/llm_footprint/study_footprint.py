"""results/tables/study_footprint.csv: what running the study cost, per rule and in total.

Heavy jobs (prepare, compress, compress steps, evaluate) from their own trackers' records
(llm_footprint.job_footprint), covering the whole job; energy measurements from their own
measured windows (every repeat and the idle window), covering those windows only (the model
load and warm-up around them run untracked). Emissions per country with the study's grid
intensities (annual) and PUE.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from . import atomic
from .carbon import IntensityTable

COLUMNS_HEAD = ["rule", "jobs", "time_basis", "hardware_energy_kwh", "wall_time_s", "gpu_hours"]


def read_json(path: str | Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def job_rows(records: Iterable[str | Path]) -> list[dict[str, Any]]:
    rows = []
    for path in records:
        record = read_json(path)
        rows.append({"rule": record["rule"], "wildcards": record["wildcards"],
                     "time_basis": "whole job" if record.get("tracked") else "untracked",
                     "hardware_energy_kwh": record.get("hardware_energy_kwh"),
                     "wall_time_s": record["wall_time_s"], "gpu_hours": record.get("gpu_hours",
                                                                                   0.0)})
    return rows


def measurement_row(summary_json: str | Path, rule: str, gpus: int) -> dict[str, Any]:
    """A measurement job's measured windows: every repeat and the idle window."""
    summary = read_json(summary_json)
    correction = summary["ram_correction_factor"]
    energy = sum(run["hardware_energy_kwh"] for run in summary["runs"])
    seconds = sum(run["duration_s"] for run in summary["runs"])
    idle = summary.get("idle") or {}
    if idle and not summary.get("idle_shared_with"):  # a shared window is the replay's
        energy += idle["cpu_energy_kwh"] + idle["gpu_energy_kwh"] + idle["ram_energy_kwh"] * correction
        seconds += idle["duration_s"]
    return {"rule": rule, "wildcards": {k: summary.get(k) for k in ("model", "variant", "setup")},
            "time_basis": "measured windows", "hardware_energy_kwh": energy,
            "wall_time_s": seconds,
            "gpu_hours": gpus * seconds / 3600 if summary.get("device") == "cuda" else 0.0}


def footprint_rows(jobs: Sequence[dict[str, Any]], countries: Sequence[str], pue: float,
                   intensity_file: str | None = None, year: int | None = None) -> list[dict]:
    """Per rule, then the total: energy (kWh), gCO2e per country, wall time, GPU-hours."""
    table = IntensityTable(intensity_file)
    intensity = {c: table.lookup(c, year).g_co2e_per_kwh for c in countries}
    by_rule: dict[str, dict[str, Any]] = {}
    for job in jobs:
        row = by_rule.setdefault(job["rule"], {"rule": job["rule"], "jobs": 0,
                                               "time_basis": job["time_basis"],
                                               "hardware_energy_kwh": 0.0, "wall_time_s": 0.0,
                                               "gpu_hours": 0.0, "untracked_jobs": 0})
        row["jobs"] += 1
        if job["hardware_energy_kwh"] is None:
            row["untracked_jobs"] += 1
        else:
            row["hardware_energy_kwh"] += job["hardware_energy_kwh"]
        row["wall_time_s"] += job["wall_time_s"]
        row["gpu_hours"] += job["gpu_hours"] or 0.0
    rows = list(by_rule.values())
    total = {"rule": "total", "jobs": sum(r["jobs"] for r in rows), "time_basis": "as above",
             "hardware_energy_kwh": sum(r["hardware_energy_kwh"] for r in rows),
             "wall_time_s": sum(r["wall_time_s"] for r in rows),
             "gpu_hours": sum(r["gpu_hours"] for r in rows),
             "untracked_jobs": sum(r["untracked_jobs"] for r in rows)}
    for row in [*rows, total]:
        for country in countries:
            row[f"gco2e_{country}"] = row["hardware_energy_kwh"] * pue * intensity[country]
    return [*rows, total]


def study_footprint_table(records: Iterable[str | Path], replays: Iterable[str | Path],
                          scenarios: Iterable[str | Path], carbon: dict[str, Any],
                          gpus_of: dict[str, int], out_csv: str | Path) -> list[dict]:
    """``replays`` / ``scenarios``: the measurement folders (each with summary.json);
    ``gpus_of``: setup -> GPUs a job of it holds."""
    jobs = job_rows(records)
    for folder in replays:
        summary = Path(folder) / "summary.json"
        jobs.append(measurement_row(summary, "measure_energy",
                                    gpus_of.get(read_json(summary)["setup"], 0)))
    for folder in scenarios:
        summary = Path(folder) / "summary.json"
        jobs.append(measurement_row(summary, "measure_energy (scenarios)",
                                    gpus_of.get(read_json(summary)["setup"], 0)))
    if not jobs:
        raise RuntimeError("no job footprint and no measurement: nothing to account for")
    rows = footprint_rows(jobs, carbon["countries"], carbon["pue"], carbon.get("intensity_file"),
                          carbon.get("year"))
    columns = [*COLUMNS_HEAD, "untracked_jobs", *[f"gco2e_{c}" for c in carbon["countries"]]]
    atomic.write_csv(out_csv, rows, columns)
    return rows


def compression_energy_kwh(records: Iterable[str | Path]) -> dict[tuple[str, str], float]:
    """(model, variant or step key) -> the compress job's tracked energy (kWh)."""
    energies = {}
    for path in records:
        record = read_json(path)
        if record["rule"] in ("compress", "compress_step") and record.get("tracked"):
            wildcards = record["wildcards"]
            key = wildcards.get("variant") or wildcards.get("step")
            energies[(record["rule"], wildcards["model"], key)] = record["hardware_energy_kwh"]
    return energies
