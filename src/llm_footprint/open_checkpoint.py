"""Open any checkpoint folder the workflow writes, in a user's own code.

``load_checkpoint(path)`` returns (model, tokenizer) for results/checkpoints/{model}/{variant}
(or a chain step under results/steps/) through the same loader as the quality and energy
stages, so the model computes what the study measured. Most methods also open with their
library's own loader (README, "Opening a checkpoint in your own code"); head-pruned ones need
this call, or a dense export (``llm_footprint.export_dense``), since their per-layer head
counts are not something a transformers config can express.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import compression, compute_dtype
from .compression.checkpoint import MANIFEST_FILE

__all__ = ["NotACheckpoint", "check_checkpoint", "load_checkpoint"]


class NotACheckpoint(ValueError):
    """The folder is not a checkpoint the workflow wrote, or one whose weights are missing."""


def _dtype_name(dtype: Any) -> str | None:
    if dtype is None:
        return None
    name = str(dtype).removeprefix("torch.")
    if name not in compute_dtype.DTYPES:
        raise ValueError(f"dtype {dtype!r}: expected None (the checkpoint's own) or one of "
                         f"{', '.join(compute_dtype.DTYPES)}")
    return name


def check_checkpoint(path: str | Path) -> dict[str, Any]:
    """The manifest of the checkpoint at ``path``; NotACheckpoint naming the file otherwise."""
    folder = Path(path)
    if not folder.exists():
        raise FileNotFoundError(f"{folder}: no such checkpoint folder")
    if not folder.is_dir():
        raise NotACheckpoint(f"{folder}: a file; a checkpoint is a folder such as "
                             f"results/checkpoints/{{model}}/{{variant}}")
    manifest_path = folder / MANIFEST_FILE
    if not manifest_path.is_file():
        hint = ""
        if (folder / "config.json").is_file():
            hint = ("; it holds a config.json, so it may be a plain transformers folder (a "
                    "prepared model or a dense export): open it with "
                    "AutoModelForCausalLM.from_pretrained")
        raise NotACheckpoint(f"{manifest_path}: missing, so {folder} is not a checkpoint "
                             f"written by the workflow{hint}")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise NotACheckpoint(f"{manifest_path}: not valid JSON ({error})") from None
    if not isinstance(manifest, dict):
        raise NotACheckpoint(f"{manifest_path}: expected a JSON object")
    for key in ("method", "weights_dir"):
        if key not in manifest:
            raise NotACheckpoint(f"{manifest_path}: no {key!r} key")
    try:
        compression.method(manifest["method"])
    except ValueError as error:
        raise NotACheckpoint(f"{manifest_path}: {error}") from None
    weights = (folder / manifest["weights_dir"]).resolve()
    if not (weights / "config.json").is_file():
        # method none points at the prepared model rather than copying it
        raise NotACheckpoint(f"{weights / 'config.json'}: missing; {manifest_path} places the "
                             f"weights there (weights_dir {manifest['weights_dir']!r}). A "
                             f"results/ folder moved without resources/ loses them")
    return manifest


def load_checkpoint(path: str | Path, device: str = "cpu",
                    dtype: Any = None) -> tuple[Any, Any]:
    """(model, tokenizer) of the checkpoint folder ``path``, on ``device`` (cpu or cuda).

    ``dtype`` None computes in the dtype the checkpoint records: its manifest's, where
    ``auto`` is resolved by ``compute_dtype`` as in the quality and energy stages, never by a
    library's own default. A name (``"float32"``) or a torch dtype overrides it.
    """
    from .loading import load_for_inference

    requested = _dtype_name(dtype)
    check_checkpoint(path)
    loaded = load_for_inference(path, device, dtype=requested)
    return loaded.model, loaded.tokenizer
