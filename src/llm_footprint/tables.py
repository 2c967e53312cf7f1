"""Study-wide tables assembled from the per-job result files."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import atomic, compression
from .cells import change_pct
from .compression.checkpoint import SUMMARY_FILE
from .energy.stats import mean_ci95
from .energy.summary import idle_power_w
from .significance import add_paired_perplexity_columns

COMPRESSION_COLUMNS = [
    "model", "variant", "method", "chain", "bits", "group_size", "desc_act", "sym", "dtype",
    "size_on_disk_mb", "prepared_size_on_disk_mb", "compression_ratio", "parameter_count",
    "bits_per_weight", "sparsity",
    "calibration_source", "calibration_n_samples", "calibration_tokens",
    "calibration_below_guidance_of", "mean_quant_loss", "mean_weight_error", "wall_time_s",
    "device", "compute_dtype", "cpu_capability",
]


def compression_rows(checkpoint_dirs: Iterable[str | Path]) -> list[dict]:
    rows = []
    for folder in checkpoint_dirs:
        with open(Path(folder) / SUMMARY_FILE, encoding="utf-8") as handle:
            summary = json.load(handle)
        calibration = summary.get("calibration") or {}
        # bits per weight and sparsity counted from the saved files by the method itself
        described = compression.describe(folder)
        rows.append({
            **{k: summary.get(k) for k in COMPRESSION_COLUMNS},
            "chain": " > ".join(summary["chain"]) if summary.get("chain") else None,
            "bits_per_weight": round(described.bits_per_weight, 4),
            "sparsity": round(described.sparsity, 6),
            "calibration_source": (Path(calibration["path"]).name if calibration.get("path")
                                   else calibration.get("dataset") or calibration.get("source")),
            "calibration_n_samples": calibration.get("n_samples"),
            "calibration_tokens": calibration.get("tokens_total"),
            # who asks for more calibration than the variant had (GPTQModel, a paper), if any
            "calibration_below_guidance_of": calibration.get("below_guidance_of"),
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
    "relative_change_pct", "paired_p_value", "paired_blocks",
]


def quality_rows(quality_files: Iterable[str | Path], baseline_variant: str,
                 teachers: dict[str, str | None] | None = None) -> list[dict]:
    """Tidy quality rows with each variant's change against its model's baseline variant (for a
    distilled model, its teacher's)."""
    rows, perplexities = [], {}
    for path in quality_files:
        with open(path, encoding="utf-8") as handle:
            result = json.load(handle)
        # what ran: the same metric in bf16 emulation and in float32 are different measurements
        ran = {"dtype": result.get("dtype"), "cpu_capability": result.get("cpu_capability")}
        rows.extend({**row, **ran} for row in result["rows"])
        if result.get("perplexity"):
            perplexities[(result["model"], result["variant"])] = result["perplexity"]
    add_paired_perplexity_columns(rows, perplexities, baseline_variant, teachers or {})
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
        row["relative_change_pct"] = change_pct(row["value"], reference)
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
    "hardware_energy_idle_kwh", "hardware_energy_dynamic_kwh",
    "hardware_energy_dynamic_per_output_token_j", "foreign_cpu_core_s", "foreign_cpu_share",
    "ttft_p50_s", "ttft_p90_s", "itl_p50_s", "itl_p90_s",
)


POWER_SOURCE_PARTS = ("cpu", "gpu", "ram")


def _what_ran(summary: dict[str, Any]) -> dict[str, Any]:
    """The tuple, its device and dtype, and how each component's energy was obtained."""
    row = {"model": summary["model"], "variant": summary["variant"], "setup": summary["setup"],
           "device": summary["device"], "dtype": summary.get("dtype"),
           "cpu_capability": summary.get("cpu_capability")}
    sources = summary.get("power_sources") or {}
    for part in POWER_SOURCE_PARTS:  # measured, estimated, constant or absent
        row[f"{part}_power_source"] = sources.get(part)
    return row


def _with_intervals(row: dict[str, Any], aggregated: dict[str, Any],
                    names: Iterable[str]) -> dict[str, Any]:
    """Each figure's mean and the half-width of its 95 % interval (None for n = 1)."""
    for name in names:
        stats = aggregated.get(name)
        row[name] = stats["mean"] if stats else None
        row[f"{name}_ci95_half_width"] = stats["ci95_half_width"] if stats else None
    return row


PRECISION_COLUMNS = ("precision_headline", "precision_target", "precision_ci95_rel_half_width",
                     "precision_target_met", "precision_stopped_by")


def _precision(achieved: dict[str, Any] | None) -> dict[str, Any]:
    """How a figure's repeats ended (energy.precision): its headline, the target, the achieved
    relative 95 % half-width and whether the target was met (empty for results without)."""
    achieved = achieved or {}
    return dict(zip(PRECISION_COLUMNS, (achieved.get("headline"), achieved.get("target"),
                                        achieved.get("ci95_rel_half_width"),
                                        achieved.get("target_met"), achieved.get("stopped_by"))))


IDLE_COLUMNS = ("idle_power_w", "idle_duration_s", "idle_slices", "idle_ci95_rel_half_width",
                "idle_target_met")


def _idle(idle: dict[str, Any] | None, factor: float) -> dict[str, Any]:
    """The idle window the dynamic figures subtract: its power (W, RAM corrected), how long it
    was measured and, when sliced (energy.idle_precision), in how many slices and how precisely
    (empty without an idle window)."""
    if not idle:
        return dict.fromkeys(IDLE_COLUMNS)
    achieved = idle.get("precision") or {}
    slices = len(idle.get("slices") or []) or None  # None: one unbroken window
    return dict(zip(IDLE_COLUMNS, (idle_power_w(idle, factor), idle["duration_s"], slices,
                                   achieved.get("ci95_rel_half_width"),
                                   achieved.get("target_met"))))


def energy_rows(summary_files: Iterable[str | Path]) -> list[dict]:
    """One row per (model, variant, setup): the mean of each figure and its 95 % half-width."""
    rows = []
    for path in summary_files:
        with open(path, encoding="utf-8") as handle:
            summary = json.load(handle)
        row = {**_what_ran(summary), "repeats": len(summary["runs"]),
               "requests_per_run": summary["schedule"]["n_requests"],
               "ram_correction_factor": summary["ram_correction_factor"],
               # for hourly grid intensities: when each run measured (UTC)
               "run_starts_utc": ";".join(r["started_utc"] for r in summary["runs"]
                                         if r.get("started_utc")),
               "peak_rss_mb": summary.get("peak_memory", {}).get("rss_mb"),
               "peak_gpu_allocated_mb": summary.get("peak_memory", {}).get("gpu_allocated_mb"),
               "nvml_gap_flagged": (summary.get("nvml_gap") or {}).get("flagged"),
               **_precision(summary.get("precision")),
               **_idle(summary.get("idle"), summary["ram_correction_factor"])}
        rows.append(_with_intervals(row, summary["aggregate"], ENERGY_FIGURES))
    return rows


SCENARIO_FIGURES = (
    "wall_time_s", "duration_s", "hardware_energy_kwh", "cpu_energy_kwh", "gpu_energy_kwh",
    "ram_energy_kwh", "ram_energy_corrected_kwh", "output_tokens", "tokens_per_s",
    "hardware_energy_per_output_token_j", "hardware_energy_idle_kwh",
    "hardware_energy_dynamic_kwh", "hardware_energy_dynamic_per_output_token_j",
    "nvml_gpu_energy_kwh", "foreign_cpu_share",
)
# fixed_workload generate with split_prefill (empty columns otherwise)
PREFILL_DECODE_FIGURES = (
    "prefill_wall_time_s", "prefill_hardware_energy_kwh",
    "prefill_hardware_energy_per_input_token_j", "decode_hardware_energy_kwh",
    "decode_hardware_energy_per_output_token_j",
    "decode_hardware_energy_dynamic_per_output_token_j", "decode_time_per_token_s",
)


def scenario_rows(scenario: str, summary_dirs: Iterable[str | Path]) -> list[dict]:
    """fixed_workload: one row per (model, variant, setup); saturated: one per batch size."""
    rows = []
    for folder in summary_dirs:
        with open(Path(folder) / "summary.json", encoding="utf-8") as handle:
            summary = json.load(handle)
        ran = {"scenario": scenario, **_what_ran(summary)}
        if scenario == "fixed_workload":
            workload = summary["workload"]
            row = {**ran, "workload": workload["workload"], "batch_size": workload["batch_size"],
                   "repeats": len(summary["runs"]),
                   **_precision((summary.get("precision") or {}).get("fixed_workload"))}
            figures = SCENARIO_FIGURES + (PREFILL_DECODE_FIGURES if workload.get("split_prefill")
                                          else ())
            rows.append(_with_intervals(row, summary["aggregate"], figures))
            continue
        for batch_size in summary["workload"]["batch_sizes"]:
            runs = [r for r in summary["runs"] if r["batch_size"] == batch_size]
            row = {**ran, "batch_size": batch_size, "repeats": len(runs),
                   "is_knee": batch_size == summary["knee_batch_size"],
                   **_precision((summary.get("precision") or {}).get(f"batch{batch_size}"))}
            aggregated = {name: mean_ci95([r[name] for r in runs])
                          for name in (*SCENARIO_FIGURES, "batch_latency_p50_s")
                          if runs and all(r.get(name) is not None for r in runs)}
            rows.append(_with_intervals(row, aggregated,
                                        (*SCENARIO_FIGURES, "batch_latency_p50_s")))
    return rows


def scenario_table(scenario: str, summary_dirs: Iterable[str | Path],
                   out_csv: str | Path) -> list[dict]:
    """results/tables/{scenario}.csv."""
    rows = scenario_rows(scenario, summary_dirs)
    atomic.write_csv(out_csv, rows)
    return rows


def energy_table(summary_files: Iterable[str | Path], out_csv: str | Path) -> list[dict]:
    """results/tables/energy.csv."""
    rows = energy_rows(summary_files)
    atomic.write_csv(out_csv, rows)
    return rows


def read_csv_rows(path: str | Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


ENERGY_CHANGE_COLUMNS = {"cpu_energy": "cpu_energy_kwh", "gpu_energy": "gpu_energy_kwh",
                         "ram_energy": "ram_energy_corrected_kwh",
                         "hardware_energy": "hardware_energy_kwh"}

UNIT_SUFFIXES = ("_kwh", "_wh", "_j", "_s")


def change_column(figure: str) -> str:
    """The relative-change column of an energy-table figure: 'busy_time_s' -> 'busy_time_change_pct'."""
    for suffix in UNIT_SUFFIXES:
        if figure.endswith(suffix):
            figure = figure.removesuffix(suffix)
            break
    return f"{figure}_change_pct"


def quality_change_column(task: str, metric: str) -> str:
    return f"{task}_{metric}_change_pct"


def quality_metrics(quality: list[dict[str, str]], configured: list[dict] = ()) -> list[dict]:
    """The configured (trade-off) metrics first, then every other (task, metric) of the quality
    table in its order; a configured metric the table lacks keeps its (empty) column."""
    pairs = dict.fromkeys((m["task"], m["metric"]) for m in configured)
    pairs.update(dict.fromkeys((r["task"], r["metric"]) for r in quality))
    return [{"task": task, "metric": metric} for task, metric in pairs]


def energy_change_figures(figures: list[str] = ()) -> dict[str, str]:
    """Column -> energy-table figure: energy by component, then the extra figures (e.g. the
    trade-off's time and energy figures) not already there."""
    columns = {f"{name}_change_pct": figure for name, figure in ENERGY_CHANGE_COLUMNS.items()}
    for figure in figures:
        if figure not in columns.values():
            columns[change_column(figure)] = figure
    return columns


def relative_change_rows(energy: list[dict[str, str]], quality: list[dict[str, str]],
                         metrics: list[dict], baseline_variant: str,
                         teachers: dict[str, str | None],
                         baseline_setup: str | None = None,
                         figures: list[str] = ()) -> list[dict]:
    """(variant - baseline) / baseline in %, for energy by component, the extra energy-table
    ``figures`` and the quality ``metrics``."""
    energy_by = {(r["model"], r["variant"], r["setup"]): r for r in energy}
    quality_by = {(r["model"], r["variant"], r["task"], r["metric"]): r["value"] for r in quality}
    energy_columns = energy_change_figures(figures)
    rows = []
    for (model, variant, setup), measured in energy_by.items():
        base_model = teachers.get(model) or model
        base_setup = baseline_setup or setup
        if (model, variant, setup) == (base_model, baseline_variant, base_setup):
            continue  # the baseline itself
        base = energy_by.get((base_model, baseline_variant, base_setup))
        row = {"model": model, "variant": variant, "setup": setup, "baseline_model": base_model,
               "baseline_variant": baseline_variant, "baseline_setup": base_setup}
        for column, figure in energy_columns.items():
            row[column] = change_pct(measured.get(figure), base.get(figure) if base else None)
        for metric in metrics:
            row[quality_change_column(metric["task"], metric["metric"])] = change_pct(
                quality_by.get((model, variant, metric["task"], metric["metric"])),
                quality_by.get((base_model, baseline_variant, metric["task"], metric["metric"])))
        rows.append(row)
    return rows


def relative_change_table(energy_csv: str | Path, quality_csv: str | Path | None,
                          metrics: list[dict], baseline_variant: str,
                          teachers: dict[str, str | None], baseline_setup: str | None,
                          out_csv: str | Path, figures: list[str] = ()) -> list[dict]:
    """results/tables/relative_change.csv (the thesis's Tables 27-28, for every tuple): energy
    by component, the extra ``figures`` (the trade-off's time and energy figures), and every
    quality metric of the quality table plus the configured ``metrics``."""
    quality = read_csv_rows(quality_csv) if quality_csv else []
    metrics = quality_metrics(quality, metrics)
    rows = relative_change_rows(read_csv_rows(energy_csv), quality, metrics, baseline_variant,
                                teachers, baseline_setup, figures)
    columns = ["model", "variant", "setup", "baseline_model", "baseline_variant", "baseline_setup",
               *energy_change_figures(figures),
               *[quality_change_column(m["task"], m["metric"]) for m in metrics]]
    atomic.write_csv(out_csv, rows, columns)
    return rows
