"""Method awq: activation-aware weight quantization (Lin et al. 2024) through GPTQModel.

Decoder block by decoder block, AWQ runs the block on the calibration texts, searches one
scale per input channel for each group of linear layers that share an input (the weights that
meet large activations are scaled up before rounding, their inputs down), then searches a
clipping bound per group of ``group_size`` weights, and rounds to ``bits`` with a scale and
zero point per group. The checkpoint is GPTQModel's AWQ GEMM format; it loads with GPTQModel
on CUDA (Marlin and others) and on CPU (TorchFusedAwqLinear in float32, TorchAtenAwqLinear
in bfloat16).

GPTQModel 7.6.0 packs AWQ weights from float16 or bfloat16 only (AwqTorchLinear, the one
packer that runs on every device), so quantization runs in bfloat16 where the variant's
dtype resolves to float32; float32 still applies at inference. On 2 CPU cores the clipping
search dominates: about a minute per decoder block of the demo model (SmolLM2-135M, 30
blocks) with 512 calibration tokens, about 1.3 times that with bfloat16 emulated (AVX2 only).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from .. import compute_dtype
from . import gptqmodel_save
from .base import CompressJob
from .gptq import GPTQ

log = logging.getLogger(__name__)

# pure-torch packer: the same GEMM layout on disk as the CUDA GEMM packer (which refuses CPU),
# on every device, with nothing to compile
PACKING_BACKEND = "awq_torch"


def quantize_dtype(choice: compute_dtype.DtypeChoice) -> tuple[str, str]:
    """(dtype, reason) AWQ quantizes in: the resolved compute dtype unless it is float32."""
    if choice.dtype in compute_dtype.HALF_DTYPES:
        return choice.dtype, choice.reason
    return "bfloat16", (f"GPTQModel 7.6.0 packs AWQ weights from float16 or bfloat16 only; "
                        f"{choice.dtype} ({choice.reason}) applies at inference")


class AWQ(GPTQ):
    """Loads, describes and sizes its checkpoints as gptq does (the same GPTQModel loader,
    packed ``bits``-bit weights with a 16-bit scale and a packed zero point per group), and
    inherits gptq's checks of the calibration block and of the group size against the model
    (groups run along the input rows, in AWQ's searches as in the kernels)."""

    name = "awq"
    needs_calibration = True
    heavy = True
    quantized = True
    # gptq's estimate plus the clipping search, not measured on a GPU: 5 min + 2 min per
    # billion parameters (the demo model on 2 CPU cores: about 30 min, a minute per block)
    minutes = (5.0, 2.0)

    def check_setup(self, key: str, variant: dict[str, Any], setup_key: str,
                    setup: dict[str, Any]) -> None:
        # no refusal of sym: false on CPU, unlike gptq: the AWQ CPU kernels apply the zero
        # points (an asymmetric checkpoint of the demo model's first block gives logits within
        # cosine 0.999 of the unquantized block's through AwqTorchLinear, TorchAtenAwqLinear,
        # TorchFusedAwqLinear and TorchInt8AwqLinear alike)
        return None

    def quantize_config(self, variant: dict[str, Any], device: str, offload_dir: Path) -> Any:
        from gptqmodel.quantization.config import AWQConfig

        return AWQConfig(bits=variant["bits"], group_size=variant["group_size"],
                         sym=variant["sym"], device=device,
                         offload_to_disk_path=str(offload_dir))

    def _quantize_and_save(self, job: CompressJob, choice: Any, tokenizer: Any, examples: Any,
                           offload_dir: Path, calibration_record: dict[str, Any] | None
                           ) -> dict[str, Any]:
        dtype, reason = quantize_dtype(choice)
        if compute_dtype.is_slow_on(dtype, job.device):
            log.info("%s.dtype: AWQ quantizes in %s, emulated on this CPU (%s); the clipping "
                     "search, which dominates, runs about 1.3 times slower", job.key, dtype,
                     reason)
        import torch
        from gptqmodel import GPTQModel

        variant = job.variant
        started = time.monotonic()
        model = GPTQModel.load(str(job.prepared_dir),
                               self.quantize_config(variant, job.device, offload_dir),
                               dtype=compute_dtype.torch_dtype(dtype))
        log.info("awq: quantizing %s to %d bits, group size %d, sym %s on %s in %s (%s; CPU "
                 "capability %s)", job.model_id, variant["bits"], variant["group_size"],
                 variant["sym"], job.device, dtype, reason,
                 compute_dtype.cpu_report().capability)
        # AWQ's searches are deterministic; seeding makes any library randomness repeatable
        torch.manual_seed(variant["calibration"]["seed"])
        model.quantize(examples, batch_size=variant["batch_size"], tokenizer=tokenizer,
                       backend=PACKING_BACKEND)
        quantize_s = time.monotonic() - started
        return gptqmodel_save.save(
            job, self.name, model, tokenizer, {
                "dtype": variant["dtype"], "bits": variant["bits"],
                "group_size": variant["group_size"], "sym": variant["sym"],
                "kernel": variant["kernel"], "quantize_dtype": dtype},
            started,
            quantize_time_s=round(quantize_s, 3),
            compute_dtype=choice.dtype,
            compute_dtype_reason=choice.reason,
            quantize_dtype=dtype,
            quantize_dtype_reason=reason,
            calibration=calibration_record,
            calibration_tokens=calibration_record["tokens_total"],
            packing_kernels=gptqmodel_save.quantized_kernels(model.model),
            inference_kernel_requested=variant["kernel"],
            seed=variant["calibration"]["seed"],
            what=(f"AWQ {variant['bits']}-bit, group size {variant['group_size']}, "
                  f"{'symmetric' if variant['sym'] else 'asymmetric (zero points)'}, "
                  f"{calibration_record['n_samples']} calibration texts "
                  f"({calibration_record['tokens_total']} tokens)"))
