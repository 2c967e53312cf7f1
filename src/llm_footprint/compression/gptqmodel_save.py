"""What the GPTQModel methods (gptq, rtn, awq, gguf) share: the job's setup, the quantized
modules' kernels, and the checkpoint folder (GPTQModel's files, the tokenizer, manifest and
summary)."""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path
from typing import Any, Callable

from .. import atomic, checkpoint_info
from . import checkpoint
from .base import CompressJob


def cpu_workers_for(threads: int) -> int:
    # GPTQModel's model loader pool asks for 2 CPU workers and fails when the parent pool has
    # fewer ("Virtual pool 'model_loader:cpu' requests 2 workers but parent 'cpu' only has 1")
    return max(2, int(threads))


def start(job: CompressJob) -> None:
    """Threads and GPTQModel's CPU pool for the job; refuse a cuda job without a GPU."""
    os.environ["GPTQMODEL_CPU_WORKERS"] = str(cpu_workers_for(job.threads))
    import torch

    torch.set_num_threads(job.threads)
    if job.device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("setup device is cuda but no CUDA device is visible to this job")


def tokenizer_for(prepared_dir: Path) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(prepared_dir)
    if tokenizer.pad_token is None:
        # without one GPTQModel rewrites the pad token to <unk> in the saved tokenizer files
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def logged_losses(quant_log: Path) -> dict[str, float | None]:
    """Means of GPTQModel's quant_log.csv losses, by kind, as they mean different things:
    GPTQ and AWQ log a calibrated reconstruction loss (AWQ one per scaling group, "not
    applicable" where a layer had no scale search), the weight-only paths "rtn: <mean absolute
    weight error>" and "gguf: <error>"."""
    calibrated: list[float] = []
    weight_errors: list[float] = []
    if quant_log.is_file():
        with open(quant_log, encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                text = (row.get("loss") or "").strip()
                prefix, _, number = text.rpartition(":")
                try:
                    (weight_errors if prefix else calibrated).append(float(number))
                except ValueError:
                    continue

    def mean(values: list[float]) -> float | None:
        return sum(values) / len(values) if values else None

    return {"mean_quant_loss": mean(calibrated),
            "mean_weight_error": mean(weight_errors)}


def quantized_kernels(model: Any) -> list[str]:
    """Class names of the GPTQModel quantized linear modules in ``model``."""
    return sorted({type(m).__name__ for m in model.modules()
                   if type(m).__module__.startswith("gptqmodel.nn_modules")})


def save(job: CompressJob, name: str, wrapper: Any, tokenizer: Any, manifest: dict[str, Any],
         started: float, from_files: Callable[[Path], dict[str, Any]] | None = None,
         **fields: Any) -> dict[str, Any]:
    """Write the checkpoint folder of a GPTQModel-quantized model atomically; return the
    summary. ``from_files`` adds summary fields read from the written files."""
    import torch

    with atomic.staged_directory(job.out_dir) as staging:
        wrapper.save(str(staging))
        tokenizer.save_pretrained(staging)
        atomic.write_json(staging / checkpoint.MANIFEST_FILE, {
            "method": name, "model": job.model_id, "variant": job.variant_id,
            "weights_dir": ".", **manifest})
        summary = checkpoint.summary(
            job.model_id, job.variant_id, job.variant, checkpoint.read_prepared(job.prepared_dir),
            checkpoint_info.size_on_disk_mb(staging), time.monotonic() - started, job.device,
            **fields,
            **(from_files(staging) if from_files else {}),
            **logged_losses(staging / "quant_log.csv"),
            threads=job.threads,
            torch_threads=torch.get_num_threads(),
            gptqmodel_cpu_workers=int(os.environ["GPTQMODEL_CPU_WORKERS"]),
        )
        atomic.write_json(staging / checkpoint.SUMMARY_FILE, summary)
    return summary
