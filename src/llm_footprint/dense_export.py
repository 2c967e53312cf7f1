"""Dense export of a head-pruned checkpoint: a plain transformers folder with the original
head counts, which ``AutoModelForCausalLM.from_pretrained`` opens.

A head-pruned checkpoint (method head_prune) stores per-layer head counts that a transformers
config cannot express, and transformers 5 has no ``pruned_heads`` support. The export puts the
kept heads' weights back at their original positions and zeros the rest: the pruned heads'
query rows (``q_proj`` output rows; GPT-2: the query columns of ``c_attn``), the key/value
rows of removed key/value heads (every query head sharing one was removed with it) and the
output projection's input columns (``o_proj``; GPT-2: the input rows of ``c_proj``'s Conv1D).
A zeroed head still attends (uniformly, its query being zero) but its output never reaches
the residual stream, so the dense model computes what the pruned one does, with the
parameter count of the unpruned model.

A bitsandbytes checkpoint of a head-pruned model (method bnb after head_prune) is refused:
exporting it would mean dequantizing, and the dequantized model (LLM.int8's outlier
decomposition in particular) no longer computes what was measured. It opens with
``llm_footprint.load_checkpoint``; the head_prune step before it can be exported.

Command line: ``python -m llm_footprint.export_dense CHECKPOINT OUT``.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from . import atomic, checkpoint_info, provenance
from .compression.checkpoint import MANIFEST_FILE, SUMMARY_FILE, read_summary, weights_dir
from .compression.head_prune import HEADS_FILE
from .open_checkpoint import check_checkpoint

__all__ = ["EXPORT_FILE", "NotExportable", "export_dense"]

# the note that says what the folder is an export of
EXPORT_FILE = "dense_export.json"
# the workflow's own records of the pruned checkpoint; the note replaces them
NOT_COPIED = (MANIFEST_FILE, SUMMARY_FILE, HEADS_FILE, "model.safetensors.index.json")
# <layer>.<attention>.<projection>.<weight|bias> in llama/mistral/qwen2 and GPT-2 names
_ATTENTION_TENSOR = re.compile(
    r"\.(\d+)\.(?:self_attn|attn)\.(q_proj|k_proj|v_proj|o_proj|c_attn|c_proj)\.(weight|bias)$")
OPENS_WITH = {
    "none": "AutoModelForCausalLM.from_pretrained on the folder its manifest's weights_dir names",
    "distill": "AutoModelForCausalLM.from_pretrained",
    "sparsegpt": "AutoModelForCausalLM.from_pretrained",
    "bnb": "AutoModelForCausalLM.from_pretrained",
    "gptq": "GPTQModel.load (or AutoModelForCausalLM.from_pretrained with optimum)",
    "rtn": "GPTQModel.load (or AutoModelForCausalLM.from_pretrained with optimum)",
    "magnitude": "AutoModelForCausalLM.from_pretrained",
}


class NotExportable(ValueError):
    """The checkpoint is not one a dense export applies to."""


def _refuse(checkpoint_dir: Path, manifest: dict[str, Any]) -> None:
    method = manifest["method"]
    if method == "head_prune":
        return
    if "kept_heads" in manifest:
        earlier = ""
        try:
            step = read_summary(checkpoint_dir)["prepared_model_provenance"]["source"]
            earlier = f" ({step['after_step']['checkpoint']})"
        except (OSError, KeyError, TypeError, ValueError):
            pass
        raise NotExportable(
            f"{checkpoint_dir}: {method}-quantized weights of a head-pruned model; a dense "
            f"export would dequantize them and no longer compute what was measured, so none is "
            f"written. Open it with llm_footprint.load_checkpoint, or export the head_prune "
            f"step before it{earlier}")
    opens = OPENS_WITH.get(method, "llm_footprint.load_checkpoint")
    raise NotExportable(f"{checkpoint_dir}: method {method} keeps the model's own head "
                        f"counts, so there is nothing to export: it opens as it is with {opens}. "
                        f"A dense export applies to head_prune checkpoints")


def _head_index(heads: list[int], head_dim: int) -> Any:
    import torch

    return torch.tensor([h * head_dim + i for h in heads for i in range(head_dim)],
                        dtype=torch.long)


def _scatter(tensor: Any, dim: int, heads: list[int], n_heads: int, head_dim: int) -> Any:
    """``tensor``'s head blocks along ``dim`` placed at the positions of ``heads`` among
    ``n_heads``, zeros elsewhere."""
    if tensor.shape[dim] != len(heads) * head_dim:
        raise ValueError(f"size {tensor.shape[dim]} along dimension {dim}, expected "
                         f"{len(heads)} kept heads of {head_dim}")
    shape = list(tensor.shape)
    shape[dim] = n_heads * head_dim
    return tensor.new_zeros(shape).index_copy_(dim, _head_index(heads, head_dim), tensor)


def _expand(name: str, tensor: Any, kept: dict[str, list[int]], n_q: int, n_kv: int,
            head_dim: int) -> Any:
    """One attention tensor of a pruned layer at its unpruned shape."""
    import torch

    projection, part = _ATTENTION_TENSOR.search(name).group(2, 3)
    query, kv = kept["query"], kept["kv"]
    if projection == "q_proj":
        return _scatter(tensor, 0, query, n_q, head_dim)
    if projection in ("k_proj", "v_proj"):
        return _scatter(tensor, 0, kv, n_kv, head_dim)
    if projection in ("o_proj", "c_proj"):
        if part == "bias":
            return tensor  # the output width is the hidden size, unchanged by pruning
        # Linear (out x in): input columns; GPT-2's Conv1D (in x out): input rows
        return _scatter(tensor, 1 if projection == "o_proj" else 0, query, n_q, head_dim)
    # GPT-2's c_attn, output (last) dimension: the query, key and value blocks side by side
    dim = tensor.dim() - 1
    width_q, width_kv = len(query) * head_dim, len(kv) * head_dim
    if tensor.shape[dim] != width_q + 2 * width_kv:
        raise ValueError(f"width {tensor.shape[dim]}, expected {width_q + 2 * width_kv} for "
                         f"{len(query)} query and {len(kv)} key/value heads")
    q, k, v = torch.split(tensor, [width_q, width_kv, width_kv], dim=dim)
    return torch.cat([_scatter(q, dim, query, n_q, head_dim),
                      _scatter(k, dim, kv, n_kv, head_dim),
                      _scatter(v, dim, kv, n_kv, head_dim)], dim=dim)


def _geometry(config: dict[str, Any], heads_record: dict[str, Any]) -> tuple[int, int, int]:
    """(query heads, key/value heads, head dim) per layer of the unpruned model."""
    n_q = config.get("num_attention_heads") or config["n_head"]
    n_kv = config.get("num_key_value_heads") or n_q
    hidden = config.get("hidden_size") or config["n_embd"]
    head_dim = heads_record.get("head_dim") or config.get("head_dim") or hidden // n_q
    return n_q, n_kv, head_dim


def _expected_shapes(folder: Path) -> tuple[dict[str, tuple[int, ...]], bool]:
    """Tensor shapes of the model ``folder``'s config.json describes (built on the meta
    device: no memory, no initialisation), and whether its output embedding is tied."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(folder)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    tied = bool(getattr(config, "tie_word_embeddings", False))
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}, tied


def _check_against_config(folder: Path, exported: dict[str, tuple[int, ...]]) -> None:
    expected, tied = _expected_shapes(folder)
    wrong = {k: (shape, expected.get(k)) for k, shape in exported.items()
             if expected.get(k) != shape}
    missing = set(expected) - set(exported) - ({"lm_head.weight"} if tied else set())
    if wrong or missing:
        raise ValueError(f"the dense export does not match its config.json: shapes "
                         f"(exported, expected) {dict(list(wrong.items())[:5])}, missing "
                         f"{sorted(missing)[:5]}")


def export_dense(checkpoint_dir: str | Path, out_dir: str | Path) -> Path:
    """Write the dense export of the head-pruned checkpoint ``checkpoint_dir`` to ``out_dir``
    (atomically: a folder that exists is complete); return ``out_dir``."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    checkpoint_dir, out_dir = Path(checkpoint_dir), Path(out_dir)
    manifest = check_checkpoint(checkpoint_dir)
    _refuse(checkpoint_dir, manifest)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise FileExistsError(f"{out_dir}: exists and is not empty; the export writes a new "
                              f"folder")
    source = weights_dir(checkpoint_dir, manifest)
    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    heads_file = source / HEADS_FILE
    heads_record = json.loads(heads_file.read_text(encoding="utf-8")) \
        if heads_file.is_file() else {}
    n_q, n_kv, head_dim = _geometry(config, heads_record)
    kept = manifest["kept_heads"]
    pruned = {layer: heads for layer, heads in enumerate(kept)
              if len(heads["query"]) < n_q or len(heads["kv"]) < n_kv}
    files = checkpoint_info.weight_files(source)
    if not files or any(p.suffix != ".safetensors" for p in files):
        raise NotExportable(f"{source}: expected safetensors weight files, found "
                            f"{[p.name for p in files]}")

    with atomic.staged_directory(out_dir) as staging:
        for entry in sorted(source.iterdir()):
            if entry.name in NOT_COPIED or entry in files or entry.name.startswith("."):
                continue
            if entry.is_dir():
                shutil.copytree(entry, staging / entry.name)
            else:
                shutil.copy2(entry, staging / entry.name)
        shapes: dict[str, tuple[int, ...]] = {}
        weight_map: dict[str, str] = {}
        total_bytes = 0
        for path in files:
            tensors = {}
            with safe_open(str(path), framework="pt") as handle:
                for name in handle.keys():
                    tensor = handle.get_tensor(name)
                    match = _ATTENTION_TENSOR.search(name)
                    if match and int(match.group(1)) in pruned:
                        try:
                            tensor = _expand(name, tensor, pruned[int(match.group(1))], n_q,
                                             n_kv, head_dim)
                        except ValueError as error:
                            raise ValueError(f"{path}: tensor {name}: {error}") from None
                    tensors[name] = tensor.contiguous()
                    shapes[name] = tuple(tensor.shape)
                    weight_map[name] = path.name
                    total_bytes += tensor.numel() * tensor.element_size()
            save_file(tensors, str(staging / path.name), metadata={"format": "pt"})
            del tensors
        if len(files) > 1:
            atomic.write_json(staging / "model.safetensors.index.json",
                              {"metadata": {"total_size": total_bytes},
                               "weight_map": weight_map})
        _check_against_config(staging, shapes)
        atomic.write_json(staging / EXPORT_FILE, {
            "what": "dense export of a head-pruned checkpoint: the original head counts, the "
                    "pruned heads' query rows, removed key/value heads and output-projection "
                    "input columns zero; computes what the pruned checkpoint computes",
            "export_of": str(checkpoint_dir.resolve()),
            "model": manifest.get("model"), "variant": manifest.get("variant"),
            "method": manifest["method"],
            "checkpoint_manifest": manifest,
            "checkpoint_weights_sha256": {p.name: checkpoint_info.sha256_file(p) for p in files},
            "zeroed_heads": [{"layer": layer,
                              "query": [h for h in range(n_q) if h not in heads["query"]],
                              "kv": [k for k in range(n_kv) if k not in heads["kv"]]}
                             for layer, heads in pruned.items()],
            "provenance": provenance.collect(),
        })
    return out_dir


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m llm_footprint.export_dense",
        description="Write a head-pruned checkpoint as a plain transformers folder with the "
                    "original head counts (pruned heads zeroed) that "
                    "AutoModelForCausalLM.from_pretrained opens.")
    parser.add_argument("checkpoint", type=Path, help="results/checkpoints/{model}/{variant}")
    parser.add_argument("out", type=Path, help="the folder to write (must not exist or be empty)")
    args = parser.parse_args(argv)
    try:
        export_dense(args.checkpoint, args.out)
    except (ValueError, OSError) as error:
        print(f"export_dense: {error}", file=sys.stderr)
        return 2
    print(args.out)
    return 0
