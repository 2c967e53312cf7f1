"""The checkpoint folder every compression method writes: results/checkpoints/{model}/{variant}/.

``manifest.json`` says how to load it (method, where the weights are, the dtype) and
``compress_summary.json`` what the compression did (sizes, times, the compute dtype). The
compression table and the loader read only these two files.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .. import checkpoint_info, compute_dtype, provenance

MANIFEST_FILE = "manifest.json"
# bytes per parameter of the floating dtypes a dense checkpoint is stored or computed in
BYTES_PER_PARAM = {"float32": 4.0, "bfloat16": 2.0, "float16": 2.0}
SUMMARY_FILE = "compress_summary.json"


@dataclass(frozen=True)
class Description:
    """What a checkpoint holds, for tables and comparisons across methods."""

    size_on_disk_mb: float
    bits_per_weight: float
    sparsity: float

    def as_record(self) -> dict[str, float]:
        return asdict(self)


def read_manifest(checkpoint_dir: str | Path) -> dict[str, Any]:
    with open(Path(checkpoint_dir) / MANIFEST_FILE, encoding="utf-8") as handle:
        return json.load(handle)


def read_summary(checkpoint_dir: str | Path) -> dict[str, Any]:
    with open(Path(checkpoint_dir) / SUMMARY_FILE, encoding="utf-8") as handle:
        return json.load(handle)


def weights_dir(checkpoint_dir: str | Path, manifest: dict[str, Any]) -> Path:
    return (Path(checkpoint_dir) / manifest["weights_dir"]).resolve()


def read_prepared(prepared_dir: Path) -> dict[str, Any]:
    """The provenance record prepare_model wrote next to the prepared weights."""
    with open(prepared_dir / "provenance.json", encoding="utf-8") as handle:
        return json.load(handle)


def summary(model_id: str, variant_id: str, variant: dict[str, Any], prepared: dict[str, Any],
            checkpoint_size_mb: float, wall_time_s: float, device: str,
            **extra: Any) -> dict[str, Any]:
    """The compress summary shared by every method; ``extra`` holds the method's own fields."""
    prepared_size_mb = prepared["size_on_disk_mb"]
    return {
        "model": model_id,
        "variant": variant_id,
        "method": variant["method"],
        # a chain's last step: the methods of all its steps, in order (compression.chains)
        "chain": variant.get("chain"),
        "bits": variant.get("bits"),
        "group_size": variant.get("group_size"),
        "desc_act": variant.get("desc_act"),
        "sym": variant.get("sym"),
        "dtype": variant.get("dtype"),
        "size_on_disk_mb": round(checkpoint_size_mb, 3),
        "prepared_size_on_disk_mb": prepared_size_mb,
        "compression_ratio": round(prepared_size_mb / checkpoint_size_mb, 4),
        "parameter_count": prepared.get("parameter_count"),
        "wall_time_s": round(wall_time_s, 3),
        "device": device,
        "cpu_capability": compute_dtype.cpu_report().capability,
        "cpu_native_bf16": compute_dtype.cpu_report().native_bf16,
        **extra,
        "prepared_model_provenance": {"source": prepared["source"]},
        "provenance": provenance.collect(config={"variant": variant}),
    }


def dense_description(checkpoint_dir: str | Path, sparsity: float = 0.0) -> Description:
    """A checkpoint stored as plain dense tensors (methods none, distill, head_prune):
    size and bits per weight of its stored dtype, read from the files."""
    source = weights_dir(checkpoint_dir, read_manifest(checkpoint_dir))
    stored = checkpoint_info.tensor_summary(source).get("dtype")
    return Description(size_on_disk_mb=round(checkpoint_info.size_on_disk_mb(source), 3),
                       bits_per_weight=8 * BYTES_PER_PARAM.get(stored, 2.0), sparsity=sparsity)


def dense_weight_bytes(parameters: float, variant: dict[str, Any],
                       checkpoint_dtype: str | None) -> float:
    """Device bytes of ``parameters`` dense weights in the variant's dtype (auto: the
    checkpoint's, else 2 bytes)."""
    dtype = variant.get("dtype", "auto")
    if dtype == "auto":
        dtype = checkpoint_dtype or "float16"
    return parameters * BYTES_PER_PARAM.get(dtype, 2.0)
