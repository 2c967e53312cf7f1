"""Facts about a checkpoint folder read from its files, without loading the model."""

from __future__ import annotations

import hashlib
import json
import struct
from collections import Counter
from pathlib import Path
from typing import Any

from .schema import ConfigError

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


def has_weights(folder: str | Path) -> bool:
    """A transformers checkpoint's weights: safetensors files or pytorch_model*.bin."""
    folder = Path(folder)
    return any(folder.glob("*.safetensors")) or any(folder.glob("pytorch_model*.bin"))


def check_weights_present(key: str, folder: str | Path) -> None:
    """Refuse a local checkpoint folder without weights before any job runs; it would be
    "prepared" with no parameters and fail only when a later stage divides by their count."""
    if not has_weights(folder):
        present = sorted(p.name for p in Path(folder).iterdir())[:8] if Path(folder).is_dir() else []
        raise ConfigError(key, f"{folder} has config.json but no weights (*.safetensors or "
                               f"pytorch_model*.bin); files there: {present or 'none'}")


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


def hub_cached_config(repo_id: str, revision: str | None,
                      cache_dirs: list[Path | None]) -> dict[str, Any] | None:
    """config.json of a hub model if a snapshot is already cached; never touches the network."""
    from huggingface_hub import try_to_load_from_cache

    for cache_dir in cache_dirs:
        try:
            found = try_to_load_from_cache(repo_id, "config.json", cache_dir=cache_dir,
                                           revision=revision)
        except (OSError, ValueError):
            continue
        if isinstance(found, str) and Path(found).is_file():
            with open(found, encoding="utf-8") as handle:
                return json.load(handle)
    return None


# GGUF value types (gguf.GGUFValueType): struct format of the scalar ones
_GGUF_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
                 10: "<Q", 11: "<q", 12: "<d"}
_GGUF_STRING, _GGUF_ARRAY = 8, 9


def gguf_metadata(path: str | Path) -> dict[str, Any]:
    """A GGUF file's key-value metadata, arrays skipped (None), tensors not read.

    The gguf package's reader also maps every tensor, which takes seconds on each parse of
    the workflow; the header alone is what the parse-time checks need.
    """
    with open(path, "rb") as handle:
        def unpack(fmt: str) -> Any:
            size = struct.calcsize(fmt)
            data = handle.read(size)
            if len(data) != size:
                raise ValueError(f"{path}: GGUF header ends early")
            return struct.unpack(fmt, data)[0]

        def string() -> str:
            return handle.read(unpack("<Q")).decode("utf-8", errors="replace")

        def skip(value_type: int) -> None:
            if value_type == _GGUF_STRING:
                handle.seek(unpack("<Q"), 1)
            elif value_type == _GGUF_ARRAY:
                item_type, count = unpack("<I"), unpack("<Q")
                if item_type in _GGUF_SCALARS:
                    handle.seek(count * struct.calcsize(_GGUF_SCALARS[item_type]), 1)
                else:
                    for _ in range(count):
                        skip(item_type)
            elif value_type in _GGUF_SCALARS:
                handle.seek(struct.calcsize(_GGUF_SCALARS[value_type]), 1)
            else:
                raise ValueError(f"{path}: unknown GGUF value type {value_type}")

        if handle.read(4) != b"GGUF":
            raise ValueError(f"{path} is not a GGUF file")
        unpack("<I")  # version
        unpack("<Q")  # tensor count
        metadata: dict[str, Any] = {}
        for _ in range(unpack("<Q")):
            key, value_type = string(), unpack("<I")
            if value_type in _GGUF_SCALARS:
                metadata[key] = unpack(_GGUF_SCALARS[value_type])
            elif value_type == _GGUF_STRING:
                metadata[key] = string()
            else:
                skip(value_type)
                metadata[key] = None
    return metadata


def gguf_model_config(path: str | Path) -> dict[str, Any] | None:
    """The transformers config keys the checks need, read from a GGUF file's metadata."""
    metadata = gguf_metadata(path)

    def value(name: str) -> Any:
        return metadata.get(name)

    arch = value("general.architecture")
    if not arch:
        return None
    mapping = {"hidden_size": "embedding_length", "intermediate_size": "feed_forward_length",
               "num_attention_heads": "attention.head_count",
               "num_key_value_heads": "attention.head_count_kv",
               "head_dim": "attention.key_length", "num_hidden_layers": "block_count",
               "max_position_embeddings": "context_length", "vocab_size": "vocab_size"}
    config: dict[str, Any] = {"model_type": arch}
    for key, gguf_key in mapping.items():
        found = value(f"{arch}.{gguf_key}")
        if found is not None:
            config[key] = int(found)
    return config


def unprepared_model_config(spec: dict[str, Any], resources_root: str | Path,
                            gguf_folder: Path | None = None) -> dict[str, Any] | None:
    """A model's config before it is prepared: from a cached hub snapshot or GGUF metadata."""
    if "hf" in spec:
        # the default cache (HF_HOME) and the workflow's own, used when HF_HOME is unset
        cache_dirs: list[Path | None] = [None, Path(resources_root) / "hf_cache" / "hub"]
        return hub_cached_config(spec["hf"], spec.get("revision"), cache_dirs)
    if "gguf_package" in spec and gguf_folder is not None:
        path = gguf_folder / spec["gguf_package"]["file"]
        if path.is_file():
            try:
                return gguf_model_config(path)
            except (ValueError, OSError, KeyError):
                return None  # unreadable metadata: the prepare job reports the file itself
    return None


def context_problem(model_config: dict[str, Any], context_tokens: int) -> str | None:
    """Why a perplexity window of ``context_tokens`` exceeds the model's maximum, if it does."""
    config = model_config.get("text_config", model_config)
    maximum = _first(config, "max_position_embeddings", "n_positions", "n_ctx")
    if maximum and context_tokens > int(maximum):
        return (f"{context_tokens} tokens exceed the model's maximum context of {int(maximum)} "
                f"tokens (max_position_embeddings)")
    return None


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
