"""Method gptq: GPTQModel quantization, calibrated on the variant's texts.

The checkpoint loads with GPTQModel and with transformers + optimum.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from .. import calibration, checkpoint_info, compute_dtype
from ..schema import ConfigError
from . import checkpoint, gptqmodel_save
from .base import CompressJob, Loaded, Method, device_string

log = logging.getLogger(__name__)


class KernelBuildNeedsNetwork(RuntimeError):
    """A GPTQModel kernel's first build wanted to download sources on an offline node."""


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
    # GPTQModel's one float32 CPU kernel (gptq_torch_fused) runs in emulated bfloat16 on an
    # AVX2 CPU: the demo's GPTQ and RTN quality jobs take 71 s against 37 s for the dense
    # model (AWQ and RTN inherit the figure; AWQ's was not measured)
    cpu_inference_factor = 1.9

    def check(self, key: str, variant: dict[str, Any]) -> None:
        calibration.check_config(f"{key}.calibration", variant["calibration"])

    def check_model(self, key: str, variant: dict[str, Any], model_id: str,
                    model_config: dict[str, Any]) -> None:
        problem = checkpoint_info.group_size_problem(model_config, variant["group_size"])
        if problem:
            raise ConfigError(f"{key}.group_size", f"model {model_id}: {problem}")

    def check_setup(self, key: str, variant: dict[str, Any], setup_key: str,
                    setup: dict[str, Any]) -> None:
        # GPTQModel 7.6's CPU kernel (TorchFusedLinear, the only one that runs float32) sets
        # every zero point to the symmetric midpoint when it repacks the weights: an asymmetric
        # checkpoint loads without error and computes garbage (demo model: perplexity 1e8)
        if setup.get("device") == "cpu" and not variant["sym"]:
            raise ConfigError(f"{key}.sym", f"false (asymmetric) cannot run on {setup_key} "
                                            f"(device cpu): GPTQModel's CPU kernel ignores zero "
                                            f"points; use sym: true on CPU setups")

    def compress(self, job: CompressJob) -> dict[str, Any]:
        variant = job.variant
        # before loading anything: the failure would otherwise come at inference time
        self.check_model(job.key, variant, job.model_id,
                         checkpoint_info.read_model_config(job.prepared_dir))
        gptqmodel_save.start(job)
        # never let GPTQModel auto-pick: it takes bfloat16 on every CPU, emulated on AVX2-only ones
        choice = compute_dtype.resolve(variant["dtype"], job.device, key=f"{job.key}.dtype",
                                       quantized=True)
        tokenizer = gptqmodel_save.tokenizer_for(job.prepared_dir)
        examples, record = (
            calibration.build(variant["calibration"], tokenizer, f"{job.key}.calibration",
                              calibration.GPTQMODEL)
            if self.needs_calibration else (None, None))
        offload_dir = job.out_dir.parent / f".{self.name}-offload-{job.variant_id}"
        try:
            summary = self._quantize_and_save(job, choice, tokenizer, examples, offload_dir,
                                              record)
        finally:
            shutil.rmtree(offload_dir, ignore_errors=True)
        log.info("%s: saved %s/%s: %.1f MB (%.2fx smaller) in %.0f s", self.name, job.model_id,
                 job.variant_id, summary["size_on_disk_mb"], summary["compression_ratio"],
                 summary["wall_time_s"])
        return summary

    def quantize_config(self, variant: dict[str, Any], device: str, offload_dir: Path) -> Any:
        """GPTQModel's config for this method; rtn overrides it."""
        from gptqmodel import QuantizeConfig

        return QuantizeConfig(
            bits=variant["bits"], group_size=variant["group_size"], desc_act=variant["desc_act"],
            sym=variant["sym"], damp_percent=variant["damp_percent"], device=device,
            offload_to_disk_path=str(offload_dir))

    def what(self, variant: dict[str, Any], record: dict[str, Any] | None) -> str:
        return (f"GPTQ {variant['bits']}-bit, group size {variant['group_size']}, "
                f"{'symmetric' if variant['sym'] else 'asymmetric'}, {record['n_samples']} "
                f"calibration texts ({record['tokens_total']} tokens)")

    def _quantize_and_save(self, job: CompressJob, choice: Any, tokenizer: Any, examples: Any,
                           offload_dir: Path, record: dict[str, Any] | None) -> dict[str, Any]:
        import torch
        from gptqmodel import GPTQModel

        variant = job.variant
        started = time.monotonic()
        model = GPTQModel.load(str(job.prepared_dir),
                               self.quantize_config(variant, job.device, offload_dir),
                               dtype=compute_dtype.torch_dtype(choice.dtype))
        log.info("%s: quantizing %s to %d bits, group size %d, sym %s on %s in %s (%s; CPU "
                 "capability %s)", self.name, job.model_id, variant["bits"],
                 variant["group_size"], variant["sym"], job.device, choice.dtype, choice.reason,
                 compute_dtype.cpu_report().capability)
        seed = record["seed"] if record else 0
        # GPTQ itself draws nothing at random; seeding makes any library randomness repeatable
        torch.manual_seed(seed)
        model.quantize(examples, batch_size=variant.get("batch_size", 1), tokenizer=tokenizer)
        quantize_s = time.monotonic() - started
        return gptqmodel_save.save(
            job, self.name, model, tokenizer, {
                "dtype": variant["dtype"], "bits": variant["bits"],
                "group_size": variant["group_size"], "sym": variant["sym"],
                "kernel": variant["kernel"]},
            started,
            quantize_time_s=round(quantize_s, 3),
            compute_dtype=choice.dtype,
            compute_dtype_reason=choice.reason,
            calibration=record,
            seed=seed,
            what=self.what(variant, record))

    def load(self, source: Path, manifest: dict[str, Any], device: str, dtype: str,
             threads: int | None) -> Loaded:
        kernel = manifest.get("kernel", "auto")
        os.environ.setdefault("GPTQMODEL_CPU_WORKERS",
                              str(gptqmodel_save.cpu_workers_for(threads or 2)))
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
        kernels = gptqmodel_save.quantized_kernels(wrapper.model)
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
