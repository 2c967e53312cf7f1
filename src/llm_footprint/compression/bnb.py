"""Method bnb: bitsandbytes quantization through transformers' BitsAndBytesConfig.

``bits: 8`` is LLM.int8 (int8 weights with one absmax per row, outlier features above
``llm_int8_threshold`` computed in 16 bits); ``bits: 4`` stores 4-bit ``nf4`` or ``fp4`` codes
in blocks of 64 with one absmax per block, the absmax themselves quantized to 8 bits when
``double_quant`` is set. The quantized model is saved with ``save_pretrained`` so evaluation and
replay load the same bytes.

The checkpoint is written right after quantization, before any forward pass: on CPUs with
AVX512_BF16 the first 4-bit forward repacks the weights for the CPU kernel, turns the
double-quantized absmax into bfloat16 and drops the nested state; saving after that
re-quantizes the bfloat16 absmax, and the reloaded model then differs from the quantized one
(bitsandbytes 0.50.2). Saved before any forward, the reload is exact.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from .. import atomic, checkpoint_info, compute_dtype
from ..schema import ConfigError
from . import checkpoint, source
from .base import CompressJob, Loaded, Method, device_map

log = logging.getLogger(__name__)

DEFAULT_QUANT_TYPE = "nf4"
DEFAULT_DOUBLE_QUANT = True
DEFAULT_INT8_THRESHOLD = 6.0
# safetensors dtypes of quantized weights: 4-bit codes packed two per uint8, int8 rows
QUANTIZED_STORAGE = ("U8", "I8")
_SAFETENSORS_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2,
                      "I8": 1, "U8": 1, "BOOL": 1}


def settings(variant: dict[str, Any]) -> dict[str, Any]:
    """The variant's keys with the defaults of its bit width filled in."""
    if variant["bits"] == 8:
        threshold = variant.get("llm_int8_threshold")
        return {"bits": 8, "llm_int8_threshold": DEFAULT_INT8_THRESHOLD if threshold is None
                else float(threshold)}
    quant_type, double_quant = variant.get("quant_type"), variant.get("double_quant")
    return {"bits": 4, "quant_type": quant_type or DEFAULT_QUANT_TYPE,
            "double_quant": DEFAULT_DOUBLE_QUANT if double_quant is None else bool(double_quant)}


def bits_per_weight_estimate(bits: int, double_quant: bool, row_width: int) -> float:
    """Stored bits per linear weight: codes plus their scales (feasibility, before saving)."""
    if bits == 8:
        return 8 + 32 / row_width  # one float32 absmax (SCB) per output row
    # one absmax per 64 weights: float32, or 8 bits + one float32 per 256 absmax when nested
    return 4 + ((8 + 32 / 256) / 64 if double_quant else 32 / 64)


def quantized_weight_stats(folder: Path) -> dict[str, Any]:
    """Bytes and element counts of the quantized linear weights, read from the saved tensors.

    A module is quantized when its ``weight`` is stored as uint8/int8; every tensor of its
    weight's quant state (``weight.absmax``, ``weight.quant_map``, nested absmax, the packed
    state, ``SCB``, ``weight_format``) counts towards its bytes; the bias does not.
    """
    headers: dict[str, dict[str, Any]] = {}
    for path in checkpoint_info.weight_files(folder):
        if path.suffix == ".safetensors":
            headers.update({k: v for k, v in checkpoint_info.safetensors_header(path).items()
                            if k != "__metadata__"})

    def nbytes(info: dict[str, Any]) -> int:
        start, end = info["data_offsets"]
        return end - start

    modules = [name[: -len(".weight")] for name, info in headers.items()
               if name.endswith(".weight") and info["dtype"] in QUANTIZED_STORAGE]
    elements = stored = 0
    for module in modules:
        weight = headers[f"{module}.weight"]
        states = [k for k in headers if k.startswith(f"{module}.weight.quant_state.")]
        if states:  # 4-bit: the original shape is in the packed quant state (JSON bytes)
            shape = _quant_state_json(folder, states[0])["shape"]
        else:
            shape = weight["shape"]
        count = 1
        for dim in shape:
            count *= dim
        elements += count
        stored += sum(nbytes(info) for name, info in headers.items()
                      if name.startswith(f"{module}.weight") or name == f"{module}.SCB")
    total_bytes = sum(nbytes(info) for info in headers.values())
    return {"quantized_modules": len(modules), "quantized_elements": elements,
            "quantized_bytes": stored,
            "bits_per_weight": round(8 * stored / elements, 4) if elements else None,
            "tensor_bytes": total_bytes}


def _quant_state_json(folder: Path, name: str) -> dict[str, Any]:
    from safetensors import safe_open

    for path in checkpoint_info.weight_files(folder):
        if path.suffix != ".safetensors":
            continue
        with safe_open(path, "pt") as handle:
            if name in handle.keys():
                return json.loads(bytes(handle.get_tensor(name).tolist()).decode("utf-8"))
    raise KeyError(name)


class BitsAndBytes(Method):
    name = "bnb"
    heavy = True
    quantized = True
    # unquantized checkpoints: quantized weights cannot be quantized again; a head-pruned
    # model is quantized in memory by bnb_pruned (its per-layer head counts are not something
    # transformers' bitsandbytes loading can rebuild)
    can_follow = ("none", "sparsegpt", "magnitude", "distill", "head_prune")
    # round-to-nearest at load time: a model load plus a few seconds per billion parameters
    minutes = (3.0, 1.0)
    # bitsandbytes' CPU backend: the demo's NF4 quality job takes 49 s against 37 s dense
    cpu_inference_factor = 1.3

    def check(self, key: str, variant: dict[str, Any]) -> None:
        bits = variant["bits"]
        if bits == 8:
            for name in ("quant_type", "double_quant"):
                if variant.get(name) is not None:
                    raise ConfigError(f"{key}.{name}", "applies to bits: 4 only (bits is 8)")
        elif variant.get("llm_int8_threshold") is not None:
            raise ConfigError(f"{key}.llm_int8_threshold", "applies to bits: 8 only (bits is 4)")
        if variant.get("dtype", "auto") != "auto":
            raise ConfigError(f"{key}.dtype", "method bnb takes its compute dtype from "
                                              "`compute_dtype`; leave dtype at auto")

    def _choice(self, job_key: str, variant: dict[str, Any], device: str) -> Any:
        return compute_dtype.resolve(variant.get("compute_dtype", "auto"), device,
                                     key=f"{job_key}.compute_dtype", quantized=True)

    def compress(self, job: CompressJob) -> dict[str, Any]:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

        started = time.monotonic()
        variant = job.variant
        self.check(job.key, variant)
        torch.set_num_threads(job.threads)
        if job.device == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("setup device is cuda but no CUDA device is visible to this job")
        step = source.resolve(job.prepared_dir, self.name, self.can_follow, job.key)
        chosen = settings(variant)
        choice = self._choice(job.key, variant, job.device)
        dtype = compute_dtype.torch_dtype(choice.dtype)
        if chosen["bits"] == 8:
            config = BitsAndBytesConfig(load_in_8bit=True,
                                        llm_int8_threshold=chosen["llm_int8_threshold"])
        else:
            config = BitsAndBytesConfig(load_in_4bit=True,
                                        bnb_4bit_quant_type=chosen["quant_type"],
                                        bnb_4bit_use_double_quant=chosen["double_quant"],
                                        bnb_4bit_compute_dtype=dtype)
        log.info("quantizing %s with bitsandbytes %s on %s, compute dtype %s (%s)",
                 job.model_id, chosen, job.device, choice.dtype, choice.reason)
        earlier = step.manifest or {}
        if "kept_heads" in earlier:
            from . import bnb_pruned, method

            pruned = method("head_prune").load(step.weights_dir, earlier, "cpu", choice.dtype,
                                               job.threads).model
            layers = bnb_pruned.quantize(pruned, chosen, dtype, job.device)
            model = pruned.to(device_map(job.device)[""])
            log.info("quantized %d linear layers of the head-pruned model in memory", layers)
        else:
            model = AutoModelForCausalLM.from_pretrained(step.weights_dir, dtype=dtype,
                                                         quantization_config=config,
                                                         device_map=device_map(job.device))
        quantize_s = time.monotonic() - started
        tokenizer = AutoTokenizer.from_pretrained(step.weights_dir)
        memory_mb = model.get_memory_footprint() / 1e6
        with atomic.staged_directory(job.out_dir) as staging:
            # before any forward pass (see the module's docstring)
            log.info("saving the quantized checkpoint")
            if "kept_heads" in earlier:
                bnb_pruned.save_state(model, staging)
                model.config.save_pretrained(staging)
            else:
                model.save_pretrained(staging)
            tokenizer.save_pretrained(staging)
            atomic.write_json(staging / checkpoint.MANIFEST_FILE, {
                "method": self.name, "model": job.model_id, "variant": job.variant_id,
                "weights_dir": ".",
                # re-resolved for the evaluating device by the loader
                "dtype": variant.get("compute_dtype", "auto"), **chosen,
                # the head-pruned structure the weights belong to (bnb_pruned loads it)
                **({"kept_heads": earlier["kept_heads"]} if "kept_heads" in earlier else {}),
            })
            stats = quantized_weight_stats(staging)
            import bitsandbytes

            summary = checkpoint.summary(
                job.model_id, job.variant_id, variant, step.prepared,
                checkpoint_info.size_on_disk_mb(staging), time.monotonic() - started,
                job.device, compute_dtype=choice.dtype, compute_dtype_reason=choice.reason,
                threads=job.threads, seed=None, quantize_time_s=round(quantize_s, 3),
                input_after_step=step.after, bitsandbytes_version=bitsandbytes.__version__,
                **{f"bnb_{k}": v for k, v in chosen.items()},
                memory_footprint_mb=round(memory_mb, 3), **stats,
                what=(f"bitsandbytes {'LLM.int8' if chosen['bits'] == 8 else chosen['quant_type']}"
                      f" quantization of {stats['quantized_modules']} linear layers; "
                      f"embeddings, norms and lm_head kept in {choice.dtype}"),
                saved_before_forward=True)
            atomic.write_json(staging / checkpoint.SUMMARY_FILE, summary)
        log.info("saved %s/%s: %.1f MB, %.3f bits per quantized weight, in %.0f s",
                 job.model_id, job.variant_id, summary["size_on_disk_mb"],
                 stats["bits_per_weight"] or 0.0, summary["wall_time_s"])
        return summary

    def load(self, source_dir: Path, manifest: dict[str, Any], device: str, dtype: str,
             threads: int | None) -> Loaded:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch_dtype = compute_dtype.torch_dtype(dtype)
        if "kept_heads" in manifest:
            from . import bnb_pruned

            model = bnb_pruned.load(source_dir, manifest, settings(manifest), torch_dtype,
                                    device)
        else:
            model = AutoModelForCausalLM.from_pretrained(source_dir, dtype=torch_dtype,
                                                         device_map=device_map(device))
        kinds = set()
        for module in model.modules():
            if type(module).__module__.startswith("bitsandbytes"):
                kinds.add(type(module).__name__)
                if hasattr(module, "compute_dtype") and manifest.get("bits") == 4:
                    # the evaluating device's dtype, not the one saved with the quantization
                    module.compute_dtype = torch_dtype
        return Loaded(model, AutoTokenizer.from_pretrained(source_dir), {
            "loader": "transformers+bitsandbytes", "kernels": sorted(kinds)})

    def describe(self, checkpoint_dir: Path) -> checkpoint.Description:
        stats = quantized_weight_stats(Path(checkpoint_dir))
        return checkpoint.Description(
            size_on_disk_mb=round(checkpoint_info.size_on_disk_mb(checkpoint_dir), 3),
            bits_per_weight=stats["bits_per_weight"] or 0.0, sparsity=0.0)

    def weight_bytes(self, parameters: float, variant: dict[str, Any], arch: Any,
                     checkpoint_dtype: str | None) -> float:
        chosen = settings(variant)
        embeddings = arch.embedding_parameters(parameters)
        linear = max(0.0, parameters - embeddings)
        bits = bits_per_weight_estimate(chosen["bits"], chosen.get("double_quant", False),
                                        arch.hidden)
        return linear * bits / 8 + embeddings * 2.0
