"""Load a compressed checkpoint for inference, the same way for the quality and energy stages.

Method none loads with transformers; method gptq with GPTQModel. The whole model goes to the
setup's device: offloading part of it would measure a different system, so a model that does
not fit fails instead.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import compute_dtype
from .compress import MANIFEST_FILE

log = logging.getLogger(__name__)


class DoesNotFit(RuntimeError):
    """The model cannot be held entirely on the requested device."""


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


@dataclass
class LoadedModel:
    model: Any  # a transformers PreTrainedModel (GPTQModel's inner model for gptq)
    tokenizer: Any
    manifest: dict[str, Any]
    device: str
    dtype: str
    load_time_s: float
    details: dict[str, Any] = field(default_factory=dict)


def read_manifest(checkpoint_dir: str | Path) -> dict[str, Any]:
    with open(Path(checkpoint_dir) / MANIFEST_FILE, encoding="utf-8") as handle:
        return json.load(handle)


def weights_dir(checkpoint_dir: str | Path, manifest: dict[str, Any]) -> Path:
    return (Path(checkpoint_dir) / manifest["weights_dir"]).resolve()


def resolve_dtype(requested: str, device: str, checkpoint_dtype: str | None, method: str,
                  variant_id: str = "?") -> str:
    """The dtype to load in, through the one place that decides it (compute_dtype)."""
    return compute_dtype.resolve(requested, device, key=f"variants.{variant_id}.dtype",
                                 checkpoint_dtype=checkpoint_dtype,
                                 quantized=method != "none").dtype


def _device_string(device: str) -> str:
    return "cuda:0" if device == "cuda" else "cpu"


def _assert_on_device(model: Any, device: str) -> None:
    wanted = "cuda" if device == "cuda" else "cpu"
    strays = {str(p.device) for p in model.parameters() if p.device.type != wanted}
    strays |= {str(b.device) for b in model.buffers() if b.device.type != wanted}
    if strays:
        raise DoesNotFit(f"parts of the model were placed on {sorted(strays)} instead of {wanted}")


def load_for_inference(checkpoint_dir: str | Path, device: str = "cpu",
                       threads: int | None = None) -> LoadedModel:
    import torch

    if threads:
        torch.set_num_threads(threads)
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("setup device is cuda but no CUDA device is visible to this job")
    manifest = read_manifest(checkpoint_dir)
    source = weights_dir(checkpoint_dir, manifest)
    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    dtype = resolve_dtype(manifest.get("dtype", "auto"), device,
                          config.get("dtype") or config.get("torch_dtype"), manifest["method"],
                          manifest.get("variant", "?"))
    started = time.monotonic()
    try:
        if manifest["method"] == "none":
            model, tokenizer, details = _load_plain(source, device, dtype)
        elif manifest["method"] == "gptq":
            model, tokenizer, details = _load_gptq(source, device, dtype, threads,
                                                   manifest.get("kernel", "auto"))
        else:
            raise ValueError(f"unknown method {manifest['method']!r} in {checkpoint_dir}")
    except torch.OutOfMemoryError as error:
        raise DoesNotFit(f"{checkpoint_dir} does not fit on {device}: {error}") from error
    _assert_on_device(model, device)
    model.eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    load_time_s = time.monotonic() - started
    log.info("loaded %s (%s, %s) on %s in %.1f s", checkpoint_dir, manifest["method"], dtype,
             device, load_time_s)
    # the host CPU's bf16 support, on GPU nodes too: it decided nothing there but tells the node
    details = {**details, **compute_dtype.cpu_report().as_record()}
    return LoadedModel(model=model, tokenizer=tokenizer, manifest=manifest, device=device,
                       dtype=dtype, load_time_s=load_time_s, details=details)


def _load_plain(source: Path, device: str, dtype: str) -> tuple[Any, Any, dict[str, Any]]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(
        source, dtype=compute_dtype.torch_dtype(dtype), device_map={"": _device_string(device)})
    return model, AutoTokenizer.from_pretrained(source), {"loader": "transformers"}


def _load_gptq(source: Path, device: str, dtype: str, threads: int | None,
               kernel: str) -> tuple[Any, Any, dict[str, Any]]:
    from .compress import cpu_workers_for

    os.environ.setdefault("GPTQMODEL_CPU_WORKERS", str(cpu_workers_for(threads or 2)))
    from gptqmodel import GPTQModel
    from transformers import AutoTokenizer

    try:
        wrapper = GPTQModel.load(str(source), device=_device_string(device),
                                 dtype=compute_dtype.torch_dtype(dtype), backend=kernel)
    except Exception as error:
        if _caused_by_network(error):
            raise KernelBuildNeedsNetwork(
                f"loading {source} with GPTQModel kernel {kernel!r}: building the kernel's "
                f"extension tried to download its sources and the network is unreachable "
                f"({_root_cause(error)}). Compute nodes are usually offline: set the variant's "
                f"`kernel` to one that builds from what is installed (gptq_marlin on NVIDIA "
                f"GPUs; on Hopper GPUs `auto` picks gptq_machete, which fetches CUTLASS), or "
                f"build the kernel once on a node with network access") from error
        raise
    kernels = sorted({type(m).__name__ for m in wrapper.model.modules()
                      if type(m).__module__.startswith("gptqmodel.nn_modules")})
    return wrapper.model, AutoTokenizer.from_pretrained(source), {
        "loader": "gptqmodel", "kernel_requested": kernel, "kernels": kernels}
