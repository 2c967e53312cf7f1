"""Load a compressed checkpoint for inference, the same way for the quality and energy stages.

The checkpoint's manifest names its method; the method (``llm_footprint.compression``) loads
the weights. The whole model goes to the setup's device: offloading part of it would measure
a different system, so a model that does not fit fails instead.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import compression, compute_dtype
from .compression.checkpoint import read_manifest, weights_dir
from .compression.gptq import KernelBuildNeedsNetwork

__all__ = ["DoesNotFit", "KernelBuildNeedsNetwork", "LoadedModel", "load_for_inference",
           "read_manifest", "resolve_dtype", "weights_dir"]

log = logging.getLogger(__name__)


class DoesNotFit(RuntimeError):
    """The model cannot be held entirely on the requested device."""


@dataclass
class LoadedModel:
    model: Any  # a transformers PreTrainedModel (GPTQModel's inner model for gptq)
    tokenizer: Any
    manifest: dict[str, Any]
    device: str
    dtype: str
    load_time_s: float
    details: dict[str, Any] = field(default_factory=dict)


def resolve_dtype(requested: str, device: str, checkpoint_dtype: str | None, method: str,
                  variant_id: str = "?") -> str:
    """The dtype to load in, through the one place that decides it (compute_dtype)."""
    return compute_dtype.resolve(requested, device, key=f"variants.{variant_id}.dtype",
                                 checkpoint_dtype=checkpoint_dtype,
                                 quantized=compression.method(method).quantized).dtype


def _assert_on_device(model: Any, device: str) -> None:
    wanted = "cuda" if device == "cuda" else "cpu"
    strays = {str(p.device) for p in model.parameters() if p.device.type != wanted}
    strays |= {str(b.device) for b in model.buffers() if b.device.type != wanted}
    if strays:
        raise DoesNotFit(f"parts of the model were placed on {sorted(strays)} instead of {wanted}")


def load_for_inference(checkpoint_dir: str | Path, device: str = "cpu",
                       threads: int | None = None, dtype: str | None = None) -> LoadedModel:
    """Load a checkpoint entirely onto ``device``; ``dtype`` None: the one its manifest
    records (``auto`` resolved by compute_dtype), else that dtype."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("setup device is cuda but no CUDA device is visible to this job")
    manifest = read_manifest(checkpoint_dir)
    try:
        method = compression.method(manifest["method"])
    except ValueError as error:
        raise ValueError(f"{checkpoint_dir}: {error}") from None
    source = weights_dir(checkpoint_dir, manifest)
    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    dtype = resolve_dtype(dtype or manifest.get("dtype", "auto"), device,
                          config.get("dtype") or config.get("torch_dtype"), manifest["method"],
                          manifest.get("variant", "?"))
    started = time.monotonic()
    try:
        loaded = method.load(source, manifest, device, dtype, threads)
    except torch.OutOfMemoryError as error:
        raise DoesNotFit(f"{checkpoint_dir} does not fit on {device}: {error}") from error
    model, tokenizer = loaded.model, loaded.tokenizer
    _assert_on_device(model, device)
    model.eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    load_time_s = time.monotonic() - started
    log.info("loaded %s (%s, %s) on %s in %.1f s", checkpoint_dir, manifest["method"], dtype,
             device, load_time_s)
    # the host CPU's bf16 support, on GPU nodes too: it decided nothing there but tells the node
    details = {**loaded.details, **compute_dtype.cpu_report().as_record()}
    return LoadedModel(model=model, tokenizer=tokenizer, manifest=manifest, device=device,
                       dtype=dtype, load_time_s=load_time_s, details=details)
