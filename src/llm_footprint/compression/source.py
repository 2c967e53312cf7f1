"""The input of a compression step: a prepared model or the checkpoint of an earlier step.

A folder with a ``manifest.json`` is a checkpoint written by a method; its weights are found
through the manifest (``checkpoint.weights_dir``) and the method that wrote it must be one the
current method can follow. Any other folder is a prepared model with its ``provenance.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..schema import ConfigError
from . import checkpoint


@dataclass(frozen=True)
class StepInput:
    weights_dir: Path  # a transformers model folder
    prepared: dict[str, Any]  # what checkpoint.summary needs: size_on_disk_mb, source, ...
    after: str | None  # the method of the earlier step; None for a prepared model
    manifest: dict[str, Any] | None = None  # the earlier step's manifest


def resolve(prepared_dir: Path, method: str, can_follow: tuple[str, ...], key: str) -> StepInput:
    prepared_dir = Path(prepared_dir)
    if not (prepared_dir / checkpoint.MANIFEST_FILE).is_file():
        return StepInput(prepared_dir, checkpoint.read_prepared(prepared_dir), None, None)
    manifest = checkpoint.read_manifest(prepared_dir)
    earlier = manifest["method"]
    if earlier not in can_follow:
        raise ConfigError(f"{key}.method",
                          f"method {method} cannot take the checkpoint of method {earlier} as "
                          f"input (it can follow: {', '.join(can_follow) or 'nothing'})")
    weights = checkpoint.weights_dir(prepared_dir, manifest)
    summary = checkpoint.read_summary(prepared_dir)
    model_config = json.loads((weights / "config.json").read_text(encoding="utf-8"))
    record = {
        "size_on_disk_mb": summary["size_on_disk_mb"],
        "source": {**summary.get("prepared_model_provenance", {}).get("source", {}),
                   "after_step": {"method": earlier, "variant": manifest.get("variant"),
                                  "checkpoint": str(prepared_dir)}},
        "parameter_count": summary.get("parameters_after") or summary.get("parameter_count"),
        "dtype": model_config.get("dtype") or model_config.get("torch_dtype"),
    }
    return StepInput(weights, record, earlier, manifest)
