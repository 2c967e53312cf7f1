"""Rule compress: results/checkpoints/{model}/{variant}/ from a prepared model.

Method none writes a manifest that points at the prepared model (no copy). Method gptq runs
GPTQModel with the variant's calibration texts and saves a checkpoint that loads with GPTQModel
and with transformers + optimum. Both write ``compress_summary.json``.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from . import atomic, calibration, checkpoint_info, compute_dtype, provenance

log = logging.getLogger(__name__)

MANIFEST_FILE = "manifest.json"
SUMMARY_FILE = "compress_summary.json"


def cpu_workers_for(threads: int) -> int:
    # GPTQModel's model loader pool asks for 2 CPU workers and fails when the parent pool has
    # fewer ("Virtual pool 'model_loader:cpu' requests 2 workers but parent 'cpu' only has 1")
    return max(2, int(threads))


def _mean_quant_loss(quant_log: Path) -> float | None:
    if not quant_log.is_file():
        return None
    with open(quant_log, encoding="utf-8") as handle:
        losses = [float(row["loss"]) for row in csv.DictReader(handle) if row.get("loss")]
    return sum(losses) / len(losses) if losses else None


def _summary(model_id: str, variant_id: str, variant: dict[str, Any], prepared: dict[str, Any],
             checkpoint_size_mb: float, wall_time_s: float, device: str, **extra: Any) -> dict[str, Any]:
    prepared_size_mb = prepared["size_on_disk_mb"]
    return {
        "model": model_id,
        "variant": variant_id,
        "method": variant["method"],
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


def reference(model_id: str, variant_id: str, variant: dict[str, Any], prepared_dir: Path,
              out_dir: Path, device: str) -> dict[str, Any]:
    """Method none: a manifest pointing at the prepared weights, nothing copied."""
    started = time.monotonic()
    prepared = _read_prepared(prepared_dir)
    with atomic.staged_directory(out_dir) as staging:
        atomic.write_json(staging / MANIFEST_FILE, {
            "method": "none", "model": model_id, "variant": variant_id,
            # relative, so the results folder can move together with resources/
            "weights_dir": os.path.relpath(prepared_dir.resolve(), out_dir.resolve()),
            "dtype": variant["dtype"],
        })
        # the dtype evaluation and replay will compute in on this device (see loading)
        choice = compute_dtype.resolve(variant["dtype"], device, key=f"variants.{variant_id}.dtype",
                                       checkpoint_dtype=prepared.get("dtype"))
        summary = _summary(model_id, variant_id, variant, prepared, prepared["size_on_disk_mb"],
                           time.monotonic() - started, device, compute_dtype=choice.dtype,
                           compute_dtype_reason=choice.reason)
        atomic.write_json(staging / SUMMARY_FILE, summary)
    return summary


def _read_prepared(prepared_dir: Path) -> dict[str, Any]:
    with open(prepared_dir / "provenance.json", encoding="utf-8") as handle:
        return json.load(handle)


def gptq(model_id: str, variant_id: str, variant: dict[str, Any], prepared_dir: Path,
         out_dir: Path, device: str, threads: int) -> dict[str, Any]:
    """Method gptq: quantize with GPTQModel and save a loadable checkpoint."""
    problem = checkpoint_info.group_size_problem(checkpoint_info.read_model_config(prepared_dir),
                                                 variant["group_size"])
    if problem:  # before loading anything: the failure would otherwise come at inference time
        raise ValueError(f"variants.{variant_id}.group_size: model {model_id}: {problem}")
    os.environ["GPTQMODEL_CPU_WORKERS"] = str(cpu_workers_for(threads))
    import torch

    torch.set_num_threads(threads)
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("setup device is cuda but no CUDA device is visible to this job")
    from gptqmodel import GPTQModel, QuantizeConfig
    from transformers import AutoTokenizer

    # never let GPTQModel auto-pick: it takes bfloat16 on every CPU, emulated on AVX2-only ones
    choice = compute_dtype.resolve(variant["dtype"], device, key=f"variants.{variant_id}.dtype",
                                   quantized=True)
    prepared = _read_prepared(prepared_dir)
    tokenizer = AutoTokenizer.from_pretrained(prepared_dir)
    if tokenizer.pad_token is None:
        # without one GPTQModel rewrites the pad token to <unk> in the saved tokenizer files
        tokenizer.pad_token = tokenizer.eos_token
    examples, calibration_record = calibration.build(variant["calibration"], tokenizer)
    log.info("calibration: %d texts, %d tokens (source %s)", calibration_record["n_samples"],
             calibration_record["tokens_total"], calibration_record["source"])

    started = time.monotonic()
    offload_dir = out_dir.parent / f".gptq-offload-{variant_id}"
    try:
        quantize_config = QuantizeConfig(
            bits=variant["bits"], group_size=variant["group_size"], desc_act=variant["desc_act"],
            sym=variant["sym"], damp_percent=variant["damp_percent"], device=device,
            offload_to_disk_path=str(offload_dir))
        model = GPTQModel.load(str(prepared_dir), quantize_config,
                               dtype=compute_dtype.torch_dtype(choice.dtype))
        log.info("quantizing %s to %d bits, group size %d on %s in %s (%s; CPU capability %s)",
                 model_id, variant["bits"], variant["group_size"], device, choice.dtype,
                 choice.reason, compute_dtype.cpu_report().capability)
        model.quantize(examples, batch_size=variant["batch_size"], tokenizer=tokenizer)
        quantize_s = time.monotonic() - started
        with atomic.staged_directory(out_dir) as staging:
            model.save(str(staging))
            tokenizer.save_pretrained(staging)
            atomic.write_json(staging / MANIFEST_FILE, {
                "method": "gptq", "model": model_id, "variant": variant_id, "weights_dir": ".",
                "dtype": variant["dtype"], "bits": variant["bits"],
                "group_size": variant["group_size"], "kernel": variant["kernel"],
            })
            summary = _summary(
                model_id, variant_id, variant, prepared, checkpoint_info.size_on_disk_mb(staging),
                time.monotonic() - started, device,
                quantize_time_s=round(quantize_s, 3),
                compute_dtype=choice.dtype,
                compute_dtype_reason=choice.reason,
                calibration=calibration_record,
                mean_quant_loss=_mean_quant_loss(staging / "quant_log.csv"),
                threads=threads,
                gptqmodel_cpu_workers=int(os.environ["GPTQMODEL_CPU_WORKERS"]),
            )
            atomic.write_json(staging / SUMMARY_FILE, summary)
    finally:
        shutil.rmtree(offload_dir, ignore_errors=True)
    log.info("saved %s/%s: %.1f MB (%.2fx smaller) in %.0f s", model_id, variant_id,
             summary["size_on_disk_mb"], summary["compression_ratio"], summary["wall_time_s"])
    return summary


def compress(model_id: str, variant_id: str, variant: dict[str, Any], prepared_dir: str | Path,
             out_dir: str | Path, device: str = "cpu", threads: int = 1) -> dict[str, Any]:
    prepared_dir, out_dir = Path(prepared_dir), Path(out_dir)
    if variant["method"] == "none":
        return reference(model_id, variant_id, variant, prepared_dir, out_dir, device)
    if variant["method"] == "gptq":
        return gptq(model_id, variant_id, variant, prepared_dir, out_dir, device, threads)
    raise ValueError(f"variants.{variant_id}.method: unknown method {variant['method']!r}")
