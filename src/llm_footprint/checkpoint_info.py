"""Facts about a checkpoint folder read from its files, without loading the model."""

from __future__ import annotations

import hashlib
import json
import struct
from collections import Counter
from pathlib import Path
from typing import Any

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")

_SAFETENSORS_TO_TORCH = {"F32": "float32", "F16": "float16", "BF16": "bfloat16", "F64": "float64"}


def sha256_file(path: str | Path, chunk_bytes: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def weight_files(folder: str | Path) -> list[Path]:
    return sorted(p for p in Path(folder).iterdir() if p.name.endswith(WEIGHT_SUFFIXES))


def size_on_disk_mb(folder: str | Path, weights_only: bool = True) -> float:
    """Size of the weight files (following links), in MB (10^6 bytes)."""
    files = weight_files(folder) if weights_only else [p for p in Path(folder).rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 1e6


def safetensors_header(path: str | Path) -> dict[str, Any]:
    with open(path, "rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        return json.loads(handle.read(length))


def tensor_summary(folder: str | Path) -> dict[str, Any]:
    """Parameter count and dominant floating dtype from the safetensors headers.

    Quantized checkpoints pack several weights per int32; their count is reported as stored
    elements, so the parameter count of record is the prepared model's.
    """
    numel_total = 0
    float_elements: Counter[str] = Counter()
    files = [p for p in weight_files(folder) if p.suffix == ".safetensors"]
    for path in files:
        for name, info in safetensors_header(path).items():
            if name == "__metadata__":
                continue
            numel = 1
            for dim in info["shape"]:
                numel *= dim
            numel_total += numel
            if info["dtype"] in _SAFETENSORS_TO_TORCH:
                float_elements[_SAFETENSORS_TO_TORCH[info["dtype"]]] += numel
    dtype = float_elements.most_common(1)[0][0] if float_elements else None
    return {"parameter_count": numel_total if files else None, "dtype": dtype,
            "safetensors_files": len(files)}


def read_model_config(folder: str | Path) -> dict[str, Any]:
    with open(Path(folder) / "config.json", encoding="utf-8") as handle:
        return json.load(handle)


def _first(config: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if config.get(key) is not None:
            return config[key]
    return None


def linear_input_dims(model_config: dict[str, Any]) -> dict[str, int]:
    """Input widths of the model's linear layers, the dimension GPTQ groups run along.

    Covers the LLaMA/Mistral/GPT-2/OPT naming; unknown keys are simply absent.
    """
    config = model_config.get("text_config", model_config)
    hidden = _first(config, "hidden_size", "n_embd", "d_model")
    dims: dict[str, int] = {}
    if hidden:
        dims["hidden_size"] = int(hidden)
        inner = _first(config, "intermediate_size", "n_inner", "ffn_dim")
        if inner is None and config.get("model_type") == "gpt2":
            inner = 4 * int(hidden)
        if inner:
            dims["intermediate_size"] = int(inner)
        heads = _first(config, "num_attention_heads", "n_head")
        head_dim = config.get("head_dim")
        if heads and head_dim:
            dims["attention_output"] = int(heads) * int(head_dim)
    return dims


def group_size_problem(model_config: dict[str, Any], group_size: int) -> str | None:
    """Why ``group_size`` cannot be used with this model, or None if it can."""
    if group_size == -1:
        return None
    bad = {name: dim for name, dim in linear_input_dims(model_config).items() if dim % group_size}
    if not bad:
        return None
    dims = sorted(set(linear_input_dims(model_config).values()))
    fits = [g for g in (32, 64, 128) if all(d % g == 0 for d in dims)] + [-1]
    listed = ", ".join(f"{name}={dim}" for name, dim in bad.items())
    return (f"group size {group_size} does not divide the model's linear input dimensions "
            f"({listed}); quantization would succeed but inference kernels fail at the first "
            f"forward. Use one of: {', '.join(str(g) for g in fits)}")
