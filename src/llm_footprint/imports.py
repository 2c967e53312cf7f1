"""Measurements made elsewhere (or published) as the workflow's own energy and quality tables.

The carbon, trade-off and figure stages then run unchanged on them, so results measured on
another cluster, or the source thesis's published tables, are re-plotted with the same code.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from . import atomic
from .schema import ConfigError
from .tables import add_baseline_columns

ENERGY_REQUIRED = ("model", "variant", "setup", "cpu_energy_kwh", "gpu_energy_kwh",
                   "ram_energy_kwh")
ENERGY_OPTIONAL = ("ram_correction_factor", "duration_s", "busy_time_s", "requests",
                   "output_tokens", "device")
QUALITY_REQUIRED = ("model", "variant", "task", "metric", "value")


class MeasurementFileError(ValueError):
    pass


def _rows(path: str | Path, required: tuple[str, ...], numeric: tuple[str, ...]) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise MeasurementFileError(f"{path} does not exist")
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise MeasurementFileError(f"{path}: missing columns {missing} "
                                       f"(required: {', '.join(required)})")
        rows = []
        for line_number, row in enumerate(reader, start=2):
            for column in required:
                if not (row.get(column) or "").strip():
                    raise MeasurementFileError(f"{path}:{line_number}: column {column!r} is empty")
            for column in numeric:
                if (row.get(column) or "").strip():
                    try:
                        float(row[column])
                    except ValueError:
                        raise MeasurementFileError(f"{path}:{line_number}: column {column!r}: "
                                                   f"{row[column]!r} is not a number") from None
            rows.append(row)
    if not rows:
        raise MeasurementFileError(f"{path}: no rows")
    return rows


def read_energy(path: str | Path) -> list[dict[str, Any]]:
    numeric = ENERGY_REQUIRED[3:] + ENERGY_OPTIONAL[:5]
    return _rows(path, ENERGY_REQUIRED, numeric)


def read_quality(path: str | Path) -> list[dict[str, Any]]:
    return _rows(path, QUALITY_REQUIRED, ("value", "stderr"))


def _float(value: str | None) -> float | None:
    return float(value) if value not in (None, "") else None


def energy_rows(path: str | Path) -> list[dict[str, Any]]:
    rows = []
    for row in read_energy(path):
        factor = _float(row.get("ram_correction_factor")) or 1.0
        cpu, gpu, ram = (float(row[c]) for c in ("cpu_energy_kwh", "gpu_energy_kwh",
                                                 "ram_energy_kwh"))
        hardware = cpu + gpu + ram * factor
        requests = _float(row.get("requests"))
        tokens = _float(row.get("output_tokens"))
        rows.append({
            "model": row["model"], "variant": row["variant"], "setup": row["setup"],
            "device": row.get("device") or "", "repeats": 1, "requests_per_run": requests,
            "ram_correction_factor": factor, "hardware_energy_kwh": hardware,
            "cpu_energy_kwh": cpu, "gpu_energy_kwh": gpu, "ram_energy_kwh": ram,
            "ram_energy_corrected_kwh": ram * factor,
            "hardware_energy_per_request_wh": hardware * 1000 / requests if requests else None,
            "hardware_energy_per_output_token_j": hardware * 3.6e6 / tokens if tokens else None,
            "duration_s": _float(row.get("duration_s")),
            "busy_time_s": _float(row.get("busy_time_s")),
            "output_tokens": tokens, "source": str(path),
        })
    return rows


def import_energy(path: str | Path, out_csv: str | Path) -> list[dict[str, Any]]:
    rows = energy_rows(path)
    atomic.write_csv(out_csv, rows)
    return rows


def import_quality(path: str | Path, baseline_variant: str, out_csv: str | Path) -> list[dict]:
    from .tables import QUALITY_COLUMNS

    rows = []
    for row in read_quality(path):
        direction = {"true": True, "false": False}.get((row.get("higher_is_better") or "").lower())
        rows.append({"model": row["model"], "variant": row["variant"], "task": row["task"],
                     "metric": row["metric"], "value": float(row["value"]),
                     "stderr": _float(row.get("stderr")),
                     "n_samples": row.get("n_samples") or None,
                     "num_fewshot": row.get("num_fewshot") or None, "limit": None,
                     "higher_is_better": direction})
    rows = add_baseline_columns(rows, baseline_variant)
    atomic.write_csv(out_csv, rows, QUALITY_COLUMNS)
    return rows


def check_config(config: dict[str, Any]) -> None:
    """Imported measurement files are readable and hold the baseline variant."""
    measurements = config["measurements"]
    if not measurements:
        return
    try:
        energy = read_energy(measurements["energy"])
    except MeasurementFileError as error:
        raise ConfigError("measurements.energy", str(error)) from None
    baseline = config["study"]["baseline_variant"]
    if not any(row["variant"] == baseline for row in energy):
        raise ConfigError("study.baseline_variant",
                          f"{baseline!r} does not appear in {measurements['energy']}")
    if measurements["quality"]:
        try:
            read_quality(measurements["quality"])
        except MeasurementFileError as error:
            raise ConfigError("measurements.quality", str(error)) from None
