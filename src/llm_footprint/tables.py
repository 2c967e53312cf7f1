"""Study-wide tables assembled from the per-job result files."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path

from . import atomic
from .compression.checkpoint import SUMMARY_FILE

COMPRESSION_COLUMNS = [
    "model", "variant", "method", "bits", "group_size", "desc_act", "sym", "dtype",
    "size_on_disk_mb", "prepared_size_on_disk_mb", "compression_ratio", "parameter_count",
    "calibration_n_samples", "calibration_tokens", "mean_quant_loss", "wall_time_s", "device",
    "compute_dtype", "cpu_capability",
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
    "model", "variant", "dtype", "cpu_capability", "task", "metric", "value", "stderr", "n_samples", "num_fewshot", "limit",
    "higher_is_better", "baseline_model", "baseline_variant", "baseline_value",
    "difference_baseline_minus_variant",
    "relative_change_pct",
]


def quality_rows(quality_files: Iterable[str | Path], baseline_variant: str,
                 teachers: dict[str, str | None] | None = None) -> list[dict]:
    """Tidy quality rows with each variant's change against its model's baseline variant (for a
    distilled model, its teacher's)."""
    rows = []
    for path in quality_files:
        with open(path, encoding="utf-8") as handle:
            result = json.load(handle)
        # what ran: the same metric in bf16 emulation and in float32 are different measurements
        ran = {"dtype": result.get("dtype"), "cpu_capability": result.get("cpu_capability")}
        rows.extend({**row, **ran} for row in result["rows"])
    return add_baseline_columns(rows, baseline_variant, teachers)


def add_baseline_columns(rows: list[dict], baseline_variant: str,
                         teachers: dict[str, str | None] | None = None) -> list[dict]:
    """Baseline value, difference (baseline minus variant) and relative change (%) per row.

    The baseline is the model's own baseline variant, or for a distilled model (one with a
    teacher) the teacher's, so the student's every variant is compared with the teacher."""
    teachers = teachers or {}
    baseline = {(r["model"], r["task"], r["metric"]): r["value"]
                for r in rows if r["variant"] == baseline_variant}
    for row in rows:
        base_model = teachers.get(row["model"]) or row["model"]
        reference = baseline.get((base_model, row["task"], row["metric"]))
        row["baseline_model"] = base_model
        row["baseline_variant"] = baseline_variant
        row["baseline_value"] = reference
        if reference is None or (row["model"], row["variant"]) == (base_model, baseline_variant):
            row["difference_baseline_minus_variant"] = None
            row["relative_change_pct"] = None
            continue
        row["difference_baseline_minus_variant"] = reference - row["value"]
        row["relative_change_pct"] = ((row["value"] - reference) / reference * 100
                                      if reference else None)
    return rows


def quality_table(quality_files: Iterable[str | Path], baseline_variant: str,
                  out_csv: str | Path, teachers: dict[str, str | None] | None = None) -> list[dict]:
    """results/tables/quality.csv: every metric, with the change against the baseline."""
    rows = quality_rows(quality_files, baseline_variant, teachers)
    atomic.write_csv(out_csv, rows, QUALITY_COLUMNS)
    return rows


ENERGY_FIGURES = (
    "hardware_energy_kwh", "cpu_energy_kwh", "gpu_energy_kwh", "ram_energy_kwh",
    "ram_energy_corrected_kwh", "hardware_energy_per_request_wh",
    "hardware_energy_per_output_token_j", "latency_p50_s", "latency_p90_s", "latency_p99_s",
    "lag_mean_s", "duration_s", "busy_time_s", "output_tokens", "nvml_gpu_energy_kwh",
)


def energy_rows(summary_files: Iterable[str | Path]) -> list[dict]:
    """One row per (model, variant, setup): the mean of each figure and its 95 % half-width."""
    rows = []
    for path in summary_files:
        with open(path, encoding="utf-8") as handle:
            summary = json.load(handle)
        row = {"model": summary["model"], "variant": summary["variant"], "setup": summary["setup"],
               "device": summary["device"], "dtype": summary.get("dtype"),
               "cpu_capability": summary.get("cpu_capability"), "repeats": len(summary["runs"]),
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


def read_csv_rows(path: str | Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _change_pct(value: str | float | None, reference: str | float | None) -> float | None:
    if value in (None, "") or reference in (None, ""):
        return None
    value, reference = float(value), float(reference)
    return (value - reference) / reference * 100 if reference else None


ENERGY_CHANGE_COLUMNS = {"cpu_energy": "cpu_energy_kwh", "gpu_energy": "gpu_energy_kwh",
                         "ram_energy": "ram_energy_corrected_kwh",
                         "hardware_energy": "hardware_energy_kwh"}


def relative_change_rows(energy: list[dict[str, str]], quality: list[dict[str, str]],
                         metrics: list[dict], baseline_variant: str,
                         teachers: dict[str, str | None],
                         baseline_setup: str | None = None) -> list[dict]:
    """(variant - baseline) / baseline in %, for energy by component and the chosen metrics."""
    energy_by = {(r["model"], r["variant"], r["setup"]): r for r in energy}
    quality_by = {(r["model"], r["variant"], r["task"], r["metric"]): r["value"] for r in quality}
    rows = []
    for (model, variant, setup), measured in energy_by.items():
        base_model = teachers.get(model) or model
        base_setup = baseline_setup or setup
        if (model, variant, setup) == (base_model, baseline_variant, base_setup):
            continue  # the baseline itself
        base = energy_by.get((base_model, baseline_variant, base_setup))
        row = {"model": model, "variant": variant, "setup": setup, "baseline_model": base_model,
               "baseline_variant": baseline_variant, "baseline_setup": base_setup}
        for name, column in ENERGY_CHANGE_COLUMNS.items():
            row[f"{name}_change_pct"] = _change_pct(measured.get(column),
                                                    base.get(column) if base else None)
        for metric in metrics:
            row[f"{metric['task']}_{metric['metric']}_change_pct"] = _change_pct(
                quality_by.get((model, variant, metric["task"], metric["metric"])),
                quality_by.get((base_model, baseline_variant, metric["task"], metric["metric"])))
        rows.append(row)
    return rows


def relative_change_table(energy_csv: str | Path, quality_csv: str | Path | None,
                          metrics: list[dict], baseline_variant: str,
                          teachers: dict[str, str | None], baseline_setup: str | None,
                          out_csv: str | Path) -> list[dict]:
    """results/tables/relative_change.csv (the thesis's Tables 27-28, for every tuple)."""
    quality = read_csv_rows(quality_csv) if quality_csv else []
    rows = relative_change_rows(read_csv_rows(energy_csv), quality, metrics, baseline_variant,
                                teachers, baseline_setup)
    columns = ["model", "variant", "setup", "baseline_model", "baseline_variant", "baseline_setup",
               *[f"{n}_change_pct" for n in ENERGY_CHANGE_COLUMNS],
               *[f"{m['task']}_{m['metric']}_change_pct" for m in metrics]]
    atomic.write_csv(out_csv, rows, columns)
    return rows
