"""Method gguf: llama.cpp's block quantization types, written and run by GPTQModel.

Weight-only and without calibration: every decoder linear weight row is cut into blocks
(32 weights for Q4_0 and Q8_0, 256 for the K-quants) and each block stored with its own
scale (and minimum, for Q4_K and Q5_K; K-quants also quantize the per-sub-block scales), in
llama.cpp's byte layout. Embeddings, norms and the tied head stay in the compute dtype. The
checkpoint is a safetensors folder of GPTQModel's GGUF format (not a .gguf file); it loads
with GPTQModel, on CPU through GGUFTorchLinear (pure torch; GGUFCppKernel needs
llama-cpp-python, not installed here).

A row whose width is not a multiple of the block is zero-padded to one: on the demo model
(widths 576 and 1536) the K-quants store 768 weights per 576-wide row, so Q4_K takes 6.0 bits
per weight on those layers instead of 4.5. The bits per weight reported are counted from the
saved tensors, padding included.

GPTQModel 7.6.0 stores the _S and _M variants of a K-quant exactly as the plain one (Q4_K_M is
Q4_K in every layer), whereas llama.cpp's Q4_K_M keeps some tensors at Q6_K.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import checkpoint_info, compute_dtype
from ..schema import ConfigError
from . import checkpoint, gptqmodel_save
from .base import CompressJob, Loaded, Method
from .gptq import GPTQ

log = logging.getLogger(__name__)

# pure-torch packer: the same bytes on disk as the llama.cpp and Triton kernels expect
PACKING_BACKEND = "gguf_torch"


@dataclass(frozen=True)
class GGUFType:
    """One llama.cpp type as GPTQModel writes it: its bits alias and the stored block."""

    alias: str  # GPTQModel's ``GGUFConfig(bits=...)``
    tensor_type: str  # the llama.cpp tensor type every layer is stored in
    block_weights: int
    block_bytes: int

    def bits_per_weight(self, row_width: int | None = None) -> float:
        """Stored bits per weight of a row ``row_width`` wide (padded to whole blocks)."""
        if not row_width:
            return 8 * self.block_bytes / self.block_weights
        blocks = math.ceil(row_width / self.block_weights)
        return 8 * blocks * self.block_bytes / row_width


# the llama.cpp types GPTQModel 7.6.0 accepts (it also takes q1_0, q1_0_g128 and q2_0, which
# are not llama.cpp types); block sizes as in llama.cpp's ggml-common.h
TYPES = {
    "Q4_0": GGUFType("q4_0", "Q4_0", 32, 18),
    "Q8_0": GGUFType("q8_0", "Q8_0", 32, 34),
    "Q4_K": GGUFType("q4_k", "Q4_K", 256, 144),
    "Q4_K_S": GGUFType("q4_k_s", "Q4_K", 256, 144),
    "Q4_K_M": GGUFType("q4_k_m", "Q4_K", 256, 144),
    "Q5_K": GGUFType("q5_k", "Q5_K", 256, 176),
    "Q5_K_S": GGUFType("q5_k_s", "Q5_K", 256, 176),
    "Q5_K_M": GGUFType("q5_k_m", "Q5_K", 256, 176),
    "Q6_K": GGUFType("q6_k", "Q6_K", 256, 210),
}


def saved_linear_bytes(folder: Path) -> int:
    """Bytes of the packed linear weights (``*.qweight``) in a folder's safetensors files."""
    total = 0
    for path in checkpoint_info.weight_files(folder):
        if path.suffix != ".safetensors":
            continue
        for name, entry in checkpoint_info.safetensors_header(path).items():
            if name.endswith(".qweight"):
                start, end = entry["data_offsets"]
                total += end - start
    return total


class GGUF(Method):
    name = "gguf"
    needs_calibration = False
    heavy = True
    quantized = True
    # one pass over the weights: a minute plus half a minute per billion parameters
    minutes = (1.0, 0.5)

    def check(self, key: str, variant: dict[str, Any]) -> None:
        if variant["type"] not in TYPES:
            raise ConfigError(f"{key}.type", f"{variant['type']!r} is not a GGUF type "
                                             f"GPTQModel writes (accepted: {', '.join(TYPES)})")

    def compress(self, job: CompressJob) -> dict[str, Any]:
        variant = job.variant
        self.check(job.key, variant)
        spec = TYPES[variant["type"]]
        widths = checkpoint_info.linear_input_dims(
            checkpoint_info.read_model_config(job.prepared_dir))
        padded = {name: w for name, w in widths.items() if w % spec.block_weights}
        if padded:
            log.warning("%s.type: %s blocks of %d weights do not divide %s: rows are padded, "
                        "%s takes %.2f bits per weight there instead of %.2f", job.key,
                        variant["type"], spec.block_weights,
                        ", ".join(f"{n}={w}" for n, w in padded.items()), spec.tensor_type,
                        spec.bits_per_weight(min(padded.values())), spec.bits_per_weight())
        gptqmodel_save.start(job)
        # never let GPTQModel auto-pick: it takes bfloat16 on every CPU
        choice = compute_dtype.resolve(variant["dtype"], job.device, key=f"{job.key}.dtype",
                                       quantized=True)
        tokenizer = gptqmodel_save.tokenizer_for(job.prepared_dir)
        offload_dir = job.out_dir.parent / f".gguf-offload-{job.variant_id}"
        try:
            summary = self._quantize_and_save(job, spec, choice, tokenizer, offload_dir)
        finally:
            shutil.rmtree(offload_dir, ignore_errors=True)
        log.info("gguf: saved %s/%s: %.1f MB (%.2fx smaller), %.3f bits per linear weight, in "
                 "%.0f s", job.model_id, job.variant_id, summary["size_on_disk_mb"],
                 summary["compression_ratio"], summary["bits_per_weight"],
                 summary["wall_time_s"])
        return summary

    def _quantize_and_save(self, job: CompressJob, spec: GGUFType, choice: Any,
                           tokenizer: Any, offload_dir: Path) -> dict[str, Any]:
        from gptqmodel import GPTQModel
        from gptqmodel.quantization.config import GGUFConfig

        variant = job.variant
        started = time.monotonic()
        model = GPTQModel.load(
            str(job.prepared_dir),
            GGUFConfig(bits=spec.alias, device=job.device, offload_to_disk_path=str(offload_dir)),
            dtype=compute_dtype.torch_dtype(choice.dtype))
        log.info("gguf: quantizing %s to %s (stored as %s) on %s in %s (%s)", job.model_id,
                 variant["type"], spec.tensor_type, job.device, choice.dtype, choice.reason)
        # weight-only: GPTQModel ignores calibration texts for GGUF
        model.quantize(None, tokenizer=tokenizer, backend=PACKING_BACKEND)
        quantize_s = time.monotonic() - started
        quantized = [m for m in model.model.modules()
                     if type(m).__module__.startswith("gptqmodel.nn_modules")]
        elements = sum(m.in_features * m.out_features for m in quantized)

        def bits_from_files(folder: Path) -> dict[str, Any]:
            stored = saved_linear_bytes(folder)
            return {"linear_weight_bytes": stored,
                    "bits_per_weight": round(8 * stored / elements, 4)}

        return gptqmodel_save.save(
            job, self.name, model, tokenizer, {
                "dtype": variant["dtype"], "type": variant["type"],
                "tensor_type": spec.tensor_type, "kernel": variant["kernel"],
                "linear_weight_elements": elements},
            started, from_files=bits_from_files,
            quantize_time_s=round(quantize_s, 3),
            compute_dtype=choice.dtype,
            compute_dtype_reason=choice.reason,
            gguf_type=variant["type"],
            tensor_type=spec.tensor_type,
            nominal_bits_per_weight=spec.bits_per_weight(),
            quantized_layers=len(quantized),
            linear_weight_elements=elements,
            calibration=None,
            packing_kernels=gptqmodel_save.quantized_kernels(model.model),
            inference_kernel_requested=variant["kernel"],
            what=(f"GGUF {variant['type']} ({spec.tensor_type} blocks of "
                  f"{spec.block_weights}) on {len(quantized)} linear layers, weight-only, "
                  f"no calibration"))

    def load(self, source: Path, manifest: dict[str, Any], device: str, dtype: str,
             threads: int | None) -> Loaded:
        # a GPTQModel checkpoint like gptq's: GPTQModel.load with the manifest's kernel
        loaded = GPTQ.load(self, source, manifest, device, dtype, threads)
        # at its first batch of at most 64 rows, GGUFTorchLinear times its fused K-quant path
        # against dequantize-then-matmul and keeps the faster, layer by layer: the choice (185
        # or 184 of the demo's 210 layers fused) and the logits' last bits then differ from
        # run to run. Without the timing it takes the fused path, as fast here.
        layers = [m for m in loaded.model.modules() if hasattr(m, "gguf_tensor_qtype")]
        for module in layers:
            module.autotune_enabled = False
        loaded.details["gguf_path_autotune"] = False if layers else None
        return loaded

    def describe(self, checkpoint_dir: Path) -> checkpoint.Description:
        manifest = checkpoint.read_manifest(checkpoint_dir)
        folder = checkpoint.weights_dir(checkpoint_dir, manifest)
        stored = saved_linear_bytes(folder)
        return checkpoint.Description(
            size_on_disk_mb=round(checkpoint_info.size_on_disk_mb(folder), 3),
            bits_per_weight=round(8 * stored / manifest["linear_weight_elements"], 4),
            sparsity=0.0)

    def weight_bytes(self, parameters: float, variant: dict[str, Any], arch: Any,
                     checkpoint_dtype: str | None) -> float:
        # linear weights in the type's blocks (rows padded as the hidden width needs);
        # embeddings stay in 16 bits, as for gptq
        embeddings = arch.embedding_parameters(parameters)
        linear = max(0.0, parameters - embeddings)
        return linear * TYPES[variant["type"]].bits_per_weight(arch.hidden) / 8 \
            + embeddings * 2.0
