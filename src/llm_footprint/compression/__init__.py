"""Compression methods behind one interface (``base.Method``), looked up by name.

Adding a method: a module here with its ``Method`` subclass, an entry in ``METHODS``, its
block in the config schema (``$defs/method_<name>``) and its tests. The rule ``compress``, the
loader, feasibility estimates and SLURM requests go through ``method(name)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..prepare import known_model_config
from ..schema import ConfigError
from . import chains
from .awq import AWQ
from .base import CompressJob, Method
from .bnb import BitsAndBytes
from .checkpoint import MANIFEST_FILE, SUMMARY_FILE, Description, read_manifest
from .distill import Distill
from .gguf import GGUF
from .gptq import GPTQ
from .head_prune import HeadPrune
from .magnitude import Magnitude
from .none import NoCompression
from .rtn import RTN
from .sparsegpt import SparseGPT

METHODS: dict[str, Method] = {m.name: m for m in (NoCompression(), GPTQ(), BitsAndBytes(),
                                                  SparseGPT(), Distill(), HeadPrune(), RTN(),
                                                  Magnitude(), AWQ(), GGUF())}

__all__ = ["METHODS", "MANIFEST_FILE", "SUMMARY_FILE", "CompressJob", "Description", "Method",
           "check_config", "compress", "describe", "method"]


def method(name: str) -> Method:
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown compression method {name!r} "
                         f"(methods: {', '.join(METHODS)})") from None


def compress(model_id: str, variant_id: str, variant: dict[str, Any], prepared_dir: str | Path,
             out_dir: str | Path, device: str = "cpu", threads: int = 1) -> dict[str, Any]:
    """Compress a prepared model into ``out_dir`` with the variant's method."""
    job = CompressJob(model_id, variant_id, variant, Path(prepared_dir), Path(out_dir), device,
                      threads)
    return method(variant["method"]).compress(job)


def describe(checkpoint_dir: str | Path) -> Description:
    """Size, bits per weight and sparsity of a checkpoint written by any method."""
    return method(read_manifest(checkpoint_dir)["method"]).describe(Path(checkpoint_dir))


def check_config(config: dict[str, Any]) -> None:
    """Each variant's method exists and accepts its values, for every model whose config.json
    can be read now (the compress job checks the others before it loads anything)."""
    for variant_id, spec in config["variants"].items():
        key = f"variants.{variant_id}"
        if spec["method"] == chains.CHAIN:
            chains.check_chain(key, spec, METHODS)
            continue
        if spec["method"] not in METHODS:
            raise ConfigError(f"{key}.method", f"{spec['method']!r} is not a compression method "
                                               f"(methods: {', '.join(METHODS)})")
        METHODS[spec["method"]].check(key, spec)
    for variant_id, spec in config["variants"].items():
        for key, step in _keyed_steps(variant_id, spec):
            for setup_id, setup in config.get("setups", {}).items():
                METHODS[step["method"]].check_setup(key, step, f"setups.{setup_id}", setup)
    for model_id in config["models"]:
        model_config = known_model_config(config, model_id)
        if model_config is None:
            continue
        for variant_id, spec in config["variants"].items():
            # every step is checked against the model as prepared (steps that change a model's
            # shape keep the widths these checks read, e.g. heads of unchanged size)
            for key, step in _keyed_steps(variant_id, spec):
                METHODS[step["method"]].check_model(key, step, model_id, model_config)


def _keyed_steps(variant_id: str, spec: dict[str, Any]):
    """(config key, step) for each step of a variant: the variant itself unless a chain."""
    for index, step in enumerate(chains.steps_of(spec)):
        yield (f"variants.{variant_id}.steps[{index}]" if spec["method"] == chains.CHAIN
               else f"variants.{variant_id}"), step
