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
