"""Study-wide tables assembled from the per-job result files."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from . import atomic
from .compress import SUMMARY_FILE

COMPRESSION_COLUMNS = [
    "model", "variant", "method", "bits", "group_size", "desc_act", "sym", "dtype",
    "size_on_disk_mb", "prepared_size_on_disk_mb", "compression_ratio", "parameter_count",
    "calibration_n_samples", "calibration_tokens", "mean_quant_loss", "wall_time_s", "device",
]


def compression_rows(checkpoint_dirs: Iterable[str | Path]) -> list[dict]:
    rows = []
    for folder in checkpoint_dirs:
        with open(Path(folder) / SUMMARY_FILE, encoding="utf-8") as handle:
            summary = json.load(handle)
        calibration = summary.get("calibration") or {}
        rows.append({
            **{k: summary.get(k) for k in COMPRESSION_COLUMNS},
            "calibration_n_samples": calibration.get("n_samples"),
            "calibration_tokens": calibration.get("tokens_total"),
        })
    return rows


def compression_table(checkpoint_dirs: Iterable[str | Path], out_csv: str | Path) -> list[dict]:
    """results/tables/compression.csv: one row per model x variant."""
    rows = compression_rows(checkpoint_dirs)
    atomic.write_csv(out_csv, rows, COMPRESSION_COLUMNS)
    return rows


QUALITY_COLUMNS = [
    "model", "variant", "task", "metric", "value", "stderr", "n_samples", "num_fewshot", "limit",
    "higher_is_better", "baseline_variant", "baseline_value", "difference_baseline_minus_variant",
    "relative_change_pct",
]


def quality_rows(quality_files: Iterable[str | Path], baseline_variant: str) -> list[dict]:
    """Tidy quality rows with each variant's change against its model's baseline variant."""
    rows = []
    for path in quality_files:
        with open(path, encoding="utf-8") as handle:
            rows.extend(json.load(handle)["rows"])
    baseline = {(r["model"], r["task"], r["metric"]): r["value"]
                for r in rows if r["variant"] == baseline_variant}
    for row in rows:
        reference = baseline.get((row["model"], row["task"], row["metric"]))
        row["baseline_variant"] = baseline_variant
        row["baseline_value"] = reference
        if reference is None or row["variant"] == baseline_variant:
            row["difference_baseline_minus_variant"] = None
            row["relative_change_pct"] = None
            continue
        row["difference_baseline_minus_variant"] = reference - row["value"]
        row["relative_change_pct"] = ((row["value"] - reference) / reference * 100
                                      if reference else None)
    return rows


def quality_table(quality_files: Iterable[str | Path], baseline_variant: str,
                  out_csv: str | Path) -> list[dict]:
    """results/tables/quality.csv: every metric, with the change against the baseline."""
    rows = quality_rows(quality_files, baseline_variant)
    atomic.write_csv(out_csv, rows, QUALITY_COLUMNS)
    return rows


ENERGY_FIGURES = (
    "hardware_energy_kwh", "cpu_energy_kwh", "gpu_energy_kwh", "ram_energy_kwh",
    "ram_energy_corrected_kwh", "hardware_energy_per_request_wh",
    "hardware_energy_per_output_token_j", "latency_p50_s", "latency_p90_s", "latency_p99_s",
    "lag_mean_s", "duration_s", "output_tokens", "nvml_gpu_energy_kwh",
)


def energy_rows(summary_files: Iterable[str | Path]) -> list[dict]:
    """One row per (model, variant, setup): the mean of each figure and its 95 % half-width."""
    rows = []
    for path in summary_files:
        with open(path, encoding="utf-8") as handle:
            summary = json.load(handle)
        row = {"model": summary["model"], "variant": summary["variant"], "setup": summary["setup"],
               "device": summary["device"], "repeats": len(summary["runs"]),
               "requests_per_run": summary["schedule"]["n_requests"],
               "ram_correction_factor": summary["ram_correction_factor"]}
        for name in ENERGY_FIGURES:
            stats = summary["aggregate"].get(name)
            row[name] = stats["mean"] if stats else None
            row[f"{name}_ci95_half_width"] = stats["ci95_half_width"] if stats else None
        rows.append(row)
    return rows


def energy_table(summary_files: Iterable[str | Path], out_csv: str | Path) -> list[dict]:
    """results/tables/energy.csv."""
    rows = energy_rows(summary_files)
    atomic.write_csv(out_csv, rows)
    return rows
