"""The interface every compression method implements.

A method is one module of this package holding a ``Method`` subclass, registered in
``compression/__init__.py``, plus its block in the config schema (``$defs/method_<name>``).
Workflow rules, the loader, feasibility estimates and SLURM requests ask the method; none of
them names a method.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from .checkpoint import Description


@dataclass(frozen=True)
class CompressJob:
    """One compression: a prepared model (or an earlier step's checkpoint) into ``out_dir``."""

    model_id: str
    variant_id: str
    variant: dict[str, Any]
    prepared_dir: Path
    out_dir: Path
    device: str = "cpu"
    threads: int = 1

    @property
    def key(self) -> str:
        return f"variants.{self.variant_id}"


@dataclass
class Loaded:
    """What a method's loader returns; ``loading`` adds timing and device checks around it."""

    model: Any  # a transformers PreTrainedModel
    tokenizer: Any
    details: dict[str, Any]


class Method:
    """One compression method. Subclasses set the class attributes and override the methods."""

    name: ClassVar[str]
    # reads hub data (calibration texts) that the login node prefetches before the job
    needs_calibration: ClassVar[bool] = False
    # computes on a compute node with the default setup's GPU; False: bookkeeping only
    heavy: ClassVar[bool] = True
    # the methods whose checkpoint this one can take as input in a chain of steps; empty: it
    # starts from a prepared model only
    can_follow: ClassVar[tuple[str, ...]] = ()
    # quantized weights: the compute dtype is that of the non-quantized parts
    quantized: ClassVar[bool] = False
    # expected minutes of one compression, a base plus a share per billion parameters
    minutes: ClassVar[tuple[float, float]] = (1.0, 0.0)
    # how many times longer the checkpoint's forward passes take on a CPU than the dense
    # model's (its kernels; on a GPU all are taken as equal): the quality job's expected time
    cpu_inference_factor: ClassVar[float] = 1.0

    def check(self, key: str, variant: dict[str, Any]) -> None:
        """Checks of the variant's keys that the schema cannot express; raise ConfigError."""

    def check_model(self, key: str, variant: dict[str, Any], model_id: str,
                    model_config: dict[str, Any]) -> None:
        """Checks against a model's config.json, when it can be read before compressing."""

    def check_setup(self, key: str, variant: dict[str, Any], setup_key: str,
                    setup: dict[str, Any]) -> None:
        """Checks against a setup the variant runs on (its device), before anything runs."""

    def compress(self, job: CompressJob) -> dict[str, Any]:
        """Write the checkpoint folder (manifest and summary included); return the summary."""
        raise NotImplementedError

    def load(self, source: Path, manifest: dict[str, Any], device: str, dtype: str,
             threads: int | None) -> Loaded:
        """Load the checkpoint's weights from ``source`` entirely onto ``device``."""
        raise NotImplementedError

    def describe(self, checkpoint_dir: Path) -> Description:
        """Size, bits per weight and sparsity of a written checkpoint."""
        raise NotImplementedError

    def weight_bytes(self, parameters: float, variant: dict[str, Any], arch: Any,
                     checkpoint_dtype: str | None) -> float:
        """Bytes the weights take in device memory (feasibility estimate)."""
        raise NotImplementedError

    def expected_minutes(self, params_b: float) -> float:
        base, per_billion = self.minutes
        return base + per_billion * params_b


def device_map(device: str) -> dict[str, str]:
    return {"": device_string(device)}


def device_string(device: str) -> str:
    return "cuda:0" if device == "cuda" else "cpu"
