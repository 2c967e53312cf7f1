"""Method none: the prepared weights as they are, in the variant's dtype.

The checkpoint is a manifest pointing at the prepared model (nothing copied); it loads with
transformers.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from .. import atomic, compute_dtype
from . import checkpoint
from .base import CompressJob, Loaded, Method, device_map


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
        return checkpoint.dense_description(checkpoint_dir)

    def weight_bytes(self, parameters: float, variant: dict[str, Any], arch: Any,
                     checkpoint_dtype: str | None) -> float:
        return checkpoint.dense_weight_bytes(parameters, variant, checkpoint_dtype)
