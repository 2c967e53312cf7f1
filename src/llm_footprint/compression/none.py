"""Method none: the prepared weights as they are, in the variant's dtype.

The checkpoint is a manifest pointing at the prepared model (nothing copied); it loads with
transformers.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from .. import atomic, checkpoint_info, compute_dtype
from . import checkpoint
from .base import CompressJob, Loaded, Method, device_map

BYTES_PER_PARAM = {"float32": 4.0, "bfloat16": 2.0, "float16": 2.0}


class NoCompression(Method):
    name = "none"
    heavy = False
    minutes = (5.0, 0.0)

    def compress(self, job: CompressJob) -> dict[str, Any]:
        started = time.monotonic()
        prepared = checkpoint.read_prepared(job.prepared_dir)
        with atomic.staged_directory(job.out_dir) as staging:
            atomic.write_json(staging / checkpoint.MANIFEST_FILE, {
                "method": self.name, "model": job.model_id, "variant": job.variant_id,
                # relative, so the results folder can move together with resources/
                "weights_dir": os.path.relpath(job.prepared_dir.resolve(), job.out_dir.resolve()),
                "dtype": job.variant["dtype"],
            })
            # the dtype evaluation and replay will compute in on this device (see loading)
            choice = compute_dtype.resolve(job.variant["dtype"], job.device, key=f"{job.key}.dtype",
                                           checkpoint_dtype=prepared.get("dtype"))
            summary = checkpoint.summary(
                job.model_id, job.variant_id, job.variant, prepared, prepared["size_on_disk_mb"],
                time.monotonic() - started, job.device, compute_dtype=choice.dtype,
                compute_dtype_reason=choice.reason)
            atomic.write_json(staging / checkpoint.SUMMARY_FILE, summary)
        return summary

    def load(self, source: Path, manifest: dict[str, Any], device: str, dtype: str,
             threads: int | None) -> Loaded:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model = AutoModelForCausalLM.from_pretrained(
            source, dtype=compute_dtype.torch_dtype(dtype), device_map=device_map(device))
        return Loaded(model, AutoTokenizer.from_pretrained(source), {"loader": "transformers"})

    def describe(self, checkpoint_dir: Path) -> checkpoint.Description:
        manifest = checkpoint.read_manifest(checkpoint_dir)
        source = checkpoint.weights_dir(checkpoint_dir, manifest)
        stored = checkpoint_info.tensor_summary(source).get("dtype")
        return checkpoint.Description(
            size_on_disk_mb=round(checkpoint_info.size_on_disk_mb(source), 3),
            bits_per_weight=8 * BYTES_PER_PARAM.get(stored, 2.0), sparsity=0.0)

    def weight_bytes(self, parameters: float, variant: dict[str, Any], arch: Any,
                     checkpoint_dtype: str | None) -> float:
        dtype = variant.get("dtype", "auto")
        if dtype == "auto":
            dtype = checkpoint_dtype or "float16"
        return parameters * BYTES_PER_PARAM.get(dtype, 2.0)
