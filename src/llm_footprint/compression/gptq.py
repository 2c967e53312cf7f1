"""Method gptq: GPTQModel quantization, calibrated on the variant's texts.

The checkpoint loads with GPTQModel and with transformers + optimum.
"""

from __future__ import annotations

import csv
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from .. import atomic, calibration, checkpoint_info, compute_dtype
from ..schema import ConfigError
from . import checkpoint
from .base import CompressJob, Loaded, Method, device_string

log = logging.getLogger(__name__)


class KernelBuildNeedsNetwork(RuntimeError):
    """A GPTQModel kernel's first build wanted to download sources on an offline node."""


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


def _causes(error: BaseException):
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def _caused_by_network(error: BaseException) -> bool:
    import socket
    import urllib.error

    return any(isinstance(cause, (urllib.error.URLError, socket.gaierror, ConnectionError))
               for cause in _causes(error))


def _root_cause(error: BaseException) -> str:
    last = list(_causes(error))[-1]
    return f"{type(last).__name__}: {last}"


def group_bits(bits: int, group_size: int, row_width: int) -> float:
    """Stored bits per linear weight: the packed weight plus one fp16 scale and one packed
    zero point per group."""
    group = group_size if group_size > 0 else row_width
    return bits + (16 + bits) / group


class GPTQ(Method):
    name = "gptq"
    needs_calibration = True
    heavy = True
    quantized = True
    # GPTQ with a few hundred calibration texts on one A100: about 5 min + 1.5 min per billion
    minutes = (5.0, 1.5)

    def check(self, key: str, variant: dict[str, Any]) -> None:
        calibration.check_config(f"{key}.calibration", variant["calibration"])

    def check_model(self, key: str, variant: dict[str, Any], model_id: str,
                    model_config: dict[str, Any]) -> None:
        problem = checkpoint_info.group_size_problem(model_config, variant["group_size"])
        if problem:
            raise ConfigError(f"{key}.group_size", f"model {model_id}: {problem}")

    def compress(self, job: CompressJob) -> dict[str, Any]:
        variant = job.variant
        # before loading anything: the failure would otherwise come at inference time
        self.check_model(job.key, variant, job.model_id,
                         checkpoint_info.read_model_config(job.prepared_dir))
        os.environ["GPTQMODEL_CPU_WORKERS"] = str(cpu_workers_for(job.threads))
        import torch

        torch.set_num_threads(job.threads)
        if job.device == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("setup device is cuda but no CUDA device is visible to this job")
        from transformers import AutoTokenizer

        # never let GPTQModel auto-pick: it takes bfloat16 on every CPU, emulated on AVX2-only ones
        choice = compute_dtype.resolve(variant["dtype"], job.device, key=f"{job.key}.dtype",
                                       quantized=True)
        tokenizer = AutoTokenizer.from_pretrained(job.prepared_dir)
        if tokenizer.pad_token is None:
            # without one GPTQModel rewrites the pad token to <unk> in the saved tokenizer files
            tokenizer.pad_token = tokenizer.eos_token
        examples, calibration_record = calibration.build(variant["calibration"], tokenizer)
        log.info("calibration: %d texts, %d tokens (source %s)", calibration_record["n_samples"],
                 calibration_record["tokens_total"], calibration_record["source"])
        offload_dir = job.out_dir.parent / f".gptq-offload-{job.variant_id}"
        try:
            summary = self._quantize_and_save(job, choice, tokenizer, examples, offload_dir,
                                              calibration=calibration_record)
        finally:
            shutil.rmtree(offload_dir, ignore_errors=True)
        log.info("saved %s/%s: %.1f MB (%.2fx smaller) in %.0f s", job.model_id, job.variant_id,
                 summary["size_on_disk_mb"], summary["compression_ratio"], summary["wall_time_s"])
        return summary

    def _quantize_and_save(self, job: CompressJob, choice: Any, tokenizer: Any, examples: Any,
                           offload_dir: Path, **extra: Any) -> dict[str, Any]:
        from gptqmodel import GPTQModel, QuantizeConfig

        variant = job.variant
        started = time.monotonic()
        quantize_config = QuantizeConfig(
            bits=variant["bits"], group_size=variant["group_size"], desc_act=variant["desc_act"],
            sym=variant["sym"], damp_percent=variant["damp_percent"], device=job.device,
            offload_to_disk_path=str(offload_dir))
        model = GPTQModel.load(str(job.prepared_dir), quantize_config,
                               dtype=compute_dtype.torch_dtype(choice.dtype))
        log.info("quantizing %s to %d bits, group size %d on %s in %s (%s; CPU capability %s)",
                 job.model_id, variant["bits"], variant["group_size"], job.device, choice.dtype,
                 choice.reason, compute_dtype.cpu_report().capability)
        import torch

        # GPTQ itself draws nothing at random; seeding makes any library randomness repeatable
        torch.manual_seed(variant["calibration"]["seed"])
        model.quantize(examples, batch_size=variant["batch_size"], tokenizer=tokenizer)
        quantize_s = time.monotonic() - started
        with atomic.staged_directory(job.out_dir) as staging:
            model.save(str(staging))
            tokenizer.save_pretrained(staging)
            atomic.write_json(staging / checkpoint.MANIFEST_FILE, {
                "method": self.name, "model": job.model_id, "variant": job.variant_id,
                "weights_dir": ".", "dtype": variant["dtype"], "bits": variant["bits"],
                "group_size": variant["group_size"], "kernel": variant["kernel"],
            })
            summary = checkpoint.summary(
                job.model_id, job.variant_id, variant, checkpoint.read_prepared(job.prepared_dir),
                checkpoint_info.size_on_disk_mb(staging), time.monotonic() - started, job.device,
                quantize_time_s=round(quantize_s, 3),
                compute_dtype=choice.dtype,
                compute_dtype_reason=choice.reason,
                **extra,
                mean_quant_loss=_mean_quant_loss(staging / "quant_log.csv"),
                threads=job.threads,
                torch_threads=torch.get_num_threads(),
                seed=variant["calibration"]["seed"],
                gptqmodel_cpu_workers=int(os.environ["GPTQMODEL_CPU_WORKERS"]),
            )
            atomic.write_json(staging / checkpoint.SUMMARY_FILE, summary)
        return summary

    def load(self, source: Path, manifest: dict[str, Any], device: str, dtype: str,
             threads: int | None) -> Loaded:
        kernel = manifest.get("kernel", "auto")
        os.environ.setdefault("GPTQMODEL_CPU_WORKERS", str(cpu_workers_for(threads or 2)))
        from gptqmodel import GPTQModel
        from transformers import AutoTokenizer

        try:
            wrapper = GPTQModel.load(str(source), device=device_string(device),
                                     dtype=compute_dtype.torch_dtype(dtype), backend=kernel)
        except Exception as error:
            if _caused_by_network(error):
                raise KernelBuildNeedsNetwork(
                    f"loading {source} with GPTQModel kernel {kernel!r}: building the kernel's "
                    f"extension tried to download its sources and the network is unreachable "
                    f"({_root_cause(error)}). Compute nodes are usually offline: set the "
                    f"variant's `kernel` to one that builds from what is installed (gptq_marlin "
                    f"on NVIDIA GPUs; on Hopper GPUs `auto` picks gptq_machete, which fetches "
                    f"CUTLASS), or build the kernel once on a node with network access") from error
            raise
        kernels = sorted({type(m).__name__ for m in wrapper.model.modules()
                          if type(m).__module__.startswith("gptqmodel.nn_modules")})
        return Loaded(wrapper.model, AutoTokenizer.from_pretrained(source), {
            "loader": "gptqmodel", "kernel_requested": kernel, "kernels": kernels})

    def describe(self, checkpoint_dir: Path) -> checkpoint.Description:
        manifest = checkpoint.read_manifest(checkpoint_dir)
        model_config = checkpoint_info.read_model_config(checkpoint_dir)
        row_width = checkpoint_info.linear_input_dims(model_config).get("hidden_size", 4096)
        return checkpoint.Description(
            size_on_disk_mb=round(checkpoint_info.size_on_disk_mb(checkpoint_dir), 3),
            bits_per_weight=round(group_bits(manifest["bits"], manifest["group_size"], row_width), 4),
            sparsity=0.0)

    def weight_bytes(self, parameters: float, variant: dict[str, Any], arch: Any,
                     checkpoint_dtype: str | None) -> float:
        # packed low-bit linear weights; embeddings stay in 16 bits
        embeddings = arch.embedding_parameters(parameters)
        linear = max(0.0, parameters - embeddings)
        return linear * group_bits(variant["bits"], variant["group_size"], arch.hidden) / 8 \
            + embeddings * 2.0
