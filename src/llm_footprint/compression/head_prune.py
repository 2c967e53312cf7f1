"""Method head_prune: remove attention heads whose attention concentrates on a single token.

The companion paper (section 3.3) runs input sentences through the model and prunes a head
when "a single token receives most of the attention", at thresholds of 90 % and 80 %. The paper
does not say which token, nor how the per-query attention is aggregated; this module defines
the statistic as follows (and records a second one for comparison):

* ``s[l, h]`` (the criterion): each calibration text is run through the model with eager
  attention and ``output_attentions=True``. For layer ``l`` and query head ``h``, take for every
  query position ``q`` except the first (which can only attend to itself) the largest attention
  weight ``max_k A[l, h, q, k]``; average over the query positions of the text, then over the
  texts. ``s`` lies in [0, 1]; a head is *concentrated* when ``s[l, h] > threshold``. The single
  token may differ from one query to the next: this is the paper's wording ("a single token
  receives most of the attention") read per query, which the paper's text allows.
* ``sink[l, h]`` (recorded only): the same average of the attention every query gives the
  first token (the "attention sink" reading, one fixed token). It does not decide anything.

Removal is structural: the rows of ``q_proj`` (and of ``k_proj``/``v_proj`` for removed
key/value heads) and the columns of ``o_proj`` of the removed heads are cut, so the parameter
count drops. Grouped-query attention stays valid under one of two rules (key ``gqa_rule``):

* ``whole_group`` (default): a key/value head and all the query heads sharing it are removed
  together, only when every query head of the group is concentrated. With one query head per
  key/value head (multi-head attention) this is plain per-head pruning.
* ``same_per_group``: the key/value heads stay; from every group of a layer the same number of
  query heads is removed (the most concentrated ones, all above the threshold): the smallest
  count of concentrated heads over the layer's groups.

A layer always keeps at least ``min_heads_per_layer`` query heads (and so one group).

The checkpoint holds the pruned weights as safetensors, the model's own config.json (whose
head counts are those before pruning: transformers cannot express per-layer counts) and the
kept heads per layer in ``head_prune.json`` and the manifest; ``load`` builds the model from
the config, shrinks each attention module to the kept heads and loads the weights strictly.
Supported: attention with separate q/k/v/o projections (llama, mistral, qwen2) and GPT-2's
fused ``c_attn``/``c_proj`` (Conv1D, multi-head attention: per-head pruning).
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

from .. import atomic, calibration, checkpoint_info, compute_dtype
from ..schema import ConfigError
from . import checkpoint
from .base import CompressJob, Loaded, Method, device_string

log = logging.getLogger(__name__)

HEADS_FILE = "head_prune.json"
# model types whose attention has q/k/v/o_proj and reshapes with -1 heads (checked on the
# pinned transformers): shrinking the projections and num_key_value_groups is all it needs
SUPPORTED_MODEL_TYPES = ("llama", "mistral", "qwen2", "gpt2")


# ---------------------------------------------------------------------------------------------
# which heads go


def plan_layer(scores: list[float], n_kv: int, threshold: float, rule: str,
               min_heads: int) -> tuple[list[int], list[int]]:
    """Kept query heads and kept key/value heads of one layer (sorted head indices)."""
    n_q = len(scores)
    per_group = n_q // n_kv
    groups = [list(range(k * per_group, (k + 1) * per_group)) for k in range(n_kv)]
    concentrated = [s > threshold for s in scores]
    if rule == "whole_group":
        removable = [k for k in range(n_kv) if all(concentrated[h] for h in groups[k])]
        # most concentrated groups first, and keep enough groups for min_heads query heads
        removable.sort(key=lambda k: -sum(scores[h] for h in groups[k]))
        keep_groups = max(1, math.ceil(min_heads / per_group))
        removed = set(removable[:max(0, n_kv - keep_groups)])
        kept_kv = [k for k in range(n_kv) if k not in removed]
        kept_q = [h for k in kept_kv for h in groups[k]]
        return kept_q, kept_kv
    if rule == "same_per_group":
        ranked = [sorted((h for h in group if concentrated[h]), key=lambda h: -scores[h])
                  for group in groups]
        keep_per_group = max(1, math.ceil(min_heads / n_kv))
        remove = min(min(len(r) for r in ranked), per_group - keep_per_group)
        remove = max(0, remove)
        dropped = {h for r in ranked for h in r[:remove]}
        return [h for h in range(n_q) if h not in dropped], list(range(n_kv))
    raise ValueError(f"unknown gqa_rule {rule!r}")


def removed_parameters(hidden: int, head_dim: int, n_q: int, n_kv: int, kept_q: int,
                       kept_kv: int, bias: bool) -> int:
    """Parameters removed from one attention module: q/k/v rows and o columns."""
    q = (n_q - kept_q) * head_dim * (hidden + (1 if bias else 0))
    kv = 2 * (n_kv - kept_kv) * head_dim * (hidden + (1 if bias else 0))
    o = (n_q - kept_q) * head_dim * hidden
    return q + kv + o


# ---------------------------------------------------------------------------------------------
# the statistic


def head_statistics(model: Any, examples: list[dict[str, list[int]]],
                    device: str) -> tuple[list[list[float]], list[list[float]]]:
    """``s[l][h]`` (mean over queries of the max attention weight, then over texts) and the
    recorded ``sink[l][h]`` (mean attention to the first token), over ``examples``."""
    import torch

    layers = model.config.num_hidden_layers
    heads = model.config.num_attention_heads
    concentration = torch.zeros(layers, heads, dtype=torch.float64)
    sink = torch.zeros(layers, heads, dtype=torch.float64)
    used = 0
    started = time.monotonic()
    # the decoder without its language-model head: the statistic needs no logits, whose
    # projection onto the vocabulary is a fifth of a small model's forward
    body = model.base_model
    with torch.no_grad():
        for index, example in enumerate(examples):
            ids = torch.tensor([example["input_ids"]], device=device_string(device))
            if ids.shape[1] < 2:
                continue
            out = body(input_ids=ids, output_attentions=True, use_cache=False)
            for layer, attention in enumerate(out.attentions):
                # (heads, queries after the first, keys)
                weights = attention[0, :, 1:, :].float()
                concentration[layer] += weights.max(dim=-1).values.mean(dim=-1).double().cpu()
                sink[layer] += weights[:, :, 0].mean(dim=-1).double().cpu()
            used += 1
            if (index + 1) % 8 == 0 or index + 1 == len(examples):
                log.info("attention statistics: %d/%d texts (%.0f s)", index + 1, len(examples),
                         time.monotonic() - started)
    if used == 0:
        raise ValueError("no calibration text has two tokens or more")
    concentration /= used
    sink /= used
    return concentration.tolist(), sink.tolist()


# ---------------------------------------------------------------------------------------------
# structural surgery, shared by compress and load


def _is_gpt2(model: Any) -> bool:
    return getattr(model.config, "model_type", None) == "gpt2"


def _attention(model: Any, layer: int) -> Any:
    if _is_gpt2(model):
        return model.transformer.h[layer].attn
    return model.model.layers[layer].self_attn


def _kv_heads(config: Any) -> int:
    return getattr(config, "num_key_value_heads", None) or config.num_attention_heads


def _hidden_and_bias(attention: Any) -> tuple[int, bool]:
    """Input width of the attention projections, and whether q/k/v carry a bias."""
    if hasattr(attention, "c_attn"):
        return attention.c_attn.weight.shape[0], True
    return attention.q_proj.in_features, attention.q_proj.bias is not None


def _slice_conv1d(conv: Any, rows: Any = None, cols: Any = None) -> Any:
    """GPT-2's Conv1D (weight is input x output): keep input ``rows`` and output ``cols``."""
    from transformers.pytorch_utils import Conv1D

    weight, bias = conv.weight.data, conv.bias.data
    if rows is not None:
        weight = weight.index_select(0, rows)
    if cols is not None:
        weight = weight.index_select(1, cols)
        bias = bias.index_select(0, cols)
    new = Conv1D(weight.shape[1], weight.shape[0]).to(device=weight.device, dtype=weight.dtype)
    new.weight.data.copy_(weight)
    new.bias.data.copy_(bias)
    return new


def _slice_linear(linear: Any, rows: Any = None, cols: Any = None) -> Any:
    import torch

    weight = linear.weight.data
    bias = linear.bias.data if linear.bias is not None else None
    if rows is not None:
        weight = weight.index_select(0, rows)
        bias = bias.index_select(0, rows) if bias is not None else None
    if cols is not None:
        weight = weight.index_select(1, cols)
    new = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None,
                          device=weight.device, dtype=weight.dtype)
    new.weight.data.copy_(weight)
    if bias is not None:
        new.bias.data.copy_(bias)
    return new


def _head_rows(heads: list[int], head_dim: int, device: Any) -> Any:
    import torch

    return torch.tensor([h * head_dim + i for h in heads for i in range(head_dim)],
                        dtype=torch.long, device=device)


def shrink_attention(attention: Any, kept_q: list[int], kept_kv: list[int]) -> None:
    """Keep only the given query and key/value heads of one attention module, in place."""
    head_dim = attention.head_dim
    if hasattr(attention, "c_attn"):
        import torch

        width = attention.split_size
        rows = _head_rows(kept_q, head_dim, attention.c_attn.weight.device)
        attention.c_attn = _slice_conv1d(attention.c_attn,
                                         cols=torch.cat([rows, rows + width, rows + 2 * width]))
        attention.c_proj = _slice_conv1d(attention.c_proj, rows=rows)
        attention.split_size = len(kept_q) * head_dim
        attention.num_heads = len(kept_q)
        return
    device = attention.q_proj.weight.device
    q_rows = _head_rows(kept_q, head_dim, device)
    kv_rows = _head_rows(kept_kv, head_dim, device)
    attention.q_proj = _slice_linear(attention.q_proj, rows=q_rows)
    attention.k_proj = _slice_linear(attention.k_proj, rows=kv_rows)
    attention.v_proj = _slice_linear(attention.v_proj, rows=kv_rows)
    attention.o_proj = _slice_linear(attention.o_proj, cols=q_rows)
    # the eager and SDPA attention repeat each key/value head this many times
    attention.num_key_value_groups = len(kept_q) // len(kept_kv)


def _resize_attention(attention: Any, n_q: int, n_kv: int) -> None:
    """Empty projections of the pruned shapes, for loading saved weights into."""
    import torch

    head_dim = attention.head_dim
    if hasattr(attention, "c_attn"):
        from transformers.pytorch_utils import Conv1D

        dtype, device = attention.c_attn.weight.dtype, attention.c_attn.weight.device
        hidden = attention.c_attn.weight.shape[0]
        attention.c_attn = Conv1D(3 * n_q * head_dim, hidden).to(device=device, dtype=dtype)
        attention.c_proj = Conv1D(hidden, n_q * head_dim).to(device=device, dtype=dtype)
        attention.split_size = n_q * head_dim
        attention.num_heads = n_q
        return
    hidden = attention.q_proj.in_features
    dtype, device = attention.q_proj.weight.dtype, attention.q_proj.weight.device
    bias_qkv = attention.q_proj.bias is not None
    bias_o = attention.o_proj.bias is not None
    make = lambda i, o, b: torch.nn.Linear(i, o, bias=b, dtype=dtype, device=device)  # noqa: E731
    attention.q_proj = make(hidden, n_q * head_dim, bias_qkv)
    attention.k_proj = make(hidden, n_kv * head_dim, bias_qkv)
    attention.v_proj = make(hidden, n_kv * head_dim, bias_qkv)
    attention.o_proj = make(n_q * head_dim, attention.o_proj.out_features, bias_o)
    attention.num_key_value_groups = n_q // n_kv


def _count_parameters(model: Any) -> int:
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


# ---------------------------------------------------------------------------------------------


class HeadPrune(Method):
    name = "head_prune"
    needs_calibration = True
    heavy = True
    # plain (unquantized) checkpoints: the prepared weights or a distilled student; pruning a
    # quantized model's packed weights is not supported (quantize after pruning instead)
    can_follow = ("none", "distill")
    # forward passes over a few dozen short texts plus a save: ~2 min + 2 min per billion
    minutes = (2.0, 2.0)

    def check(self, key: str, variant: dict[str, Any]) -> None:
        threshold = variant["threshold"]
        if not 0 < threshold < 1:
            raise ConfigError(f"{key}.threshold", f"must lie strictly between 0 and 1, "
                                                  f"got {threshold}")
        calibration.check_config(f"{key}.calibration", variant["calibration"])

    def check_model(self, key: str, variant: dict[str, Any], model_id: str,
                    model_config: dict[str, Any]) -> None:
        model_type = model_config.get("model_type")
        if model_type not in SUPPORTED_MODEL_TYPES:
            raise ConfigError(f"{key}.method", f"model {model_id}: head_prune supports "
                                               f"{', '.join(SUPPORTED_MODEL_TYPES)} attention, not "
                                               f"model_type {model_type!r}")
        heads = model_config.get("num_attention_heads") or model_config.get("n_head")
        if heads is not None and variant["min_heads_per_layer"] > heads:
            raise ConfigError(f"{key}.min_heads_per_layer",
                              f"model {model_id} has {heads} query heads per layer, fewer "
                              f"than {variant['min_heads_per_layer']}")

    def _input(self, job: CompressJob) -> tuple[Path, dict[str, Any], dict[str, Any] | None]:
        """The weights to prune, the prepared-model record and, for a chain, the earlier step."""
        folder = job.prepared_dir
        if not (folder / checkpoint.MANIFEST_FILE).is_file():
            return folder, checkpoint.read_prepared(folder), None
        manifest = checkpoint.read_manifest(folder)
        earlier = manifest["method"]
        if earlier not in self.can_follow:
            raise ConfigError(f"{job.key}.method",
                              f"head_prune cannot follow {earlier} (it can follow: "
                              f"{', '.join(self.can_follow)})")
        source = checkpoint.weights_dir(folder, manifest)
        if (source / "provenance.json").is_file():
            prepared = checkpoint.read_prepared(source)
        else:
            step = checkpoint.read_summary(folder)
            prepared = {"size_on_disk_mb": step["size_on_disk_mb"],
                        "parameter_count": step.get("parameter_count"),
                        "source": {"checkpoint": str(folder), "method": earlier}}
        return source, prepared, {"method": earlier, "checkpoint": str(folder)}

    def compress(self, job: CompressJob) -> dict[str, Any]:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        variant = job.variant
        started = time.monotonic()
        source, prepared, earlier = self._input(job)
        model_config = checkpoint_info.read_model_config(source)
        self.check_model(job.key, variant, job.model_id, model_config)
        torch.set_num_threads(job.threads)
        if job.device == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("setup device is cuda but no CUDA device is visible to this job")
        stored_dtype = (checkpoint_info.tensor_summary(source).get("dtype")
                        or model_config.get("dtype") or model_config.get("torch_dtype"))
        choice = compute_dtype.resolve(variant["dtype"], job.device, key=f"{job.key}.dtype",
                                       checkpoint_dtype=stored_dtype)
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(
            source, dtype=compute_dtype.torch_dtype(choice.dtype), attn_implementation="eager",
            device_map={"": device_string(job.device)}).eval()
        examples, calibration_record = calibration.build(variant["calibration"], tokenizer)
        log.info("head_prune %s/%s: attention statistics over %d texts (%d tokens) in %s on %s",
                 job.model_id, job.variant_id, calibration_record["n_samples"],
                 calibration_record["tokens_total"], choice.dtype, job.device)
        analysis_started = time.monotonic()
        scores, sink = head_statistics(model, examples, job.device)
        analysis_s = time.monotonic() - analysis_started

        config = model.config
        n_q, n_kv = config.num_attention_heads, _kv_heads(config)
        parameters_before = _count_parameters(model)
        layers = []
        expected_removed = 0
        for layer, layer_scores in enumerate(scores):
            kept_q, kept_kv = plan_layer(layer_scores, n_kv, variant["threshold"],
                                         variant["gqa_rule"], variant["min_heads_per_layer"])
            attention = _attention(model, layer)
            hidden, bias = _hidden_and_bias(attention)
            expected_removed += removed_parameters(hidden, attention.head_dim, n_q, n_kv,
                                                   len(kept_q), len(kept_kv), bias)
            if len(kept_q) < n_q or len(kept_kv) < n_kv:
                shrink_attention(attention, kept_q, kept_kv)
            layers.append({
                "layer": layer, "query_heads_before": n_q, "kv_heads_before": n_kv,
                "kept_query_heads": kept_q, "kept_kv_heads": kept_kv,
                "removed_query_heads": [h for h in range(n_q) if h not in kept_q],
                "removed_kv_heads": [k for k in range(n_kv) if k not in kept_kv],
                "concentrated_query_heads": [h for h, s in enumerate(layer_scores)
                                             if s > variant["threshold"]],
                "max_attention": [round(s, 6) for s in layer_scores],
                "first_token_attention": [round(s, 6) for s in sink[layer]],
            })
        parameters_after = _count_parameters(model)
        if parameters_before - parameters_after != expected_removed:
            raise AssertionError(f"pruning removed {parameters_before - parameters_after} "
                                 f"parameters, {expected_removed} expected")
        removed_q = sum(len(r["removed_query_heads"]) for r in layers)
        removed_kv = sum(len(r["removed_kv_heads"]) for r in layers)
        log.info("head_prune %s/%s: removed %d of %d query heads and %d of %d key/value heads "
                 "(threshold %g, rule %s); parameters %d -> %d", job.model_id, job.variant_id,
                 removed_q, n_q * len(layers), removed_kv, n_kv * len(layers),
                 variant["threshold"], variant["gqa_rule"], parameters_before, parameters_after)
        heads_record = {
            "statistic": "mean over query positions (except the first) of the max attention "
                         "weight over keys, averaged over calibration texts",
            "threshold": variant["threshold"], "gqa_rule": variant["gqa_rule"],
            "min_heads_per_layer": variant["min_heads_per_layer"],
            "head_dim": _attention(model, 0).head_dim, "layers": layers,
        }
        save_dtype = stored_dtype if stored_dtype in checkpoint.BYTES_PER_PARAM else choice.dtype
        with atomic.staged_directory(job.out_dir) as staging:
            model.to(compute_dtype.torch_dtype(save_dtype))
            model.save_pretrained(staging)
            tokenizer.save_pretrained(staging)
            atomic.write_json(staging / HEADS_FILE, heads_record)
            atomic.write_json(staging / checkpoint.MANIFEST_FILE, {
                "method": self.name, "model": job.model_id, "variant": job.variant_id,
                "weights_dir": ".", "dtype": variant["dtype"], "stored_dtype": save_dtype,
                "kept_heads": [{"query": r["kept_query_heads"], "kv": r["kept_kv_heads"]}
                               for r in layers],
            })
            file_parameters = checkpoint_info.tensor_summary(staging)["parameter_count"]
            summary = checkpoint.summary(
                job.model_id, job.variant_id, variant, prepared,
                checkpoint_info.size_on_disk_mb(staging), time.monotonic() - started, job.device,
                compute_dtype=choice.dtype, compute_dtype_reason=choice.reason,
                stored_dtype=save_dtype, threads=job.threads, seed=variant["calibration"]["seed"],
                threshold=variant["threshold"], gqa_rule=variant["gqa_rule"],
                min_heads_per_layer=variant["min_heads_per_layer"],
                calibration=calibration_record, analysis_time_s=round(analysis_s, 3),
                query_heads_before=n_q * len(layers), query_heads_removed=removed_q,
                kv_heads_before=n_kv * len(layers), kv_heads_removed=removed_kv,
                heads_removed_per_layer=[len(r["removed_query_heads"]) for r in layers],
                parameters_before=parameters_before, parameters_after=parameters_after,
                parameters_in_files=file_parameters, follows=earlier,
                layers=[{k: r[k] for k in ("layer", "removed_query_heads", "removed_kv_heads",
                                           "max_attention")} for r in layers])
            atomic.write_json(staging / checkpoint.SUMMARY_FILE, summary)
        log.info("saved %s/%s: %.1f MB in %.0f s", job.model_id, job.variant_id,
                 summary["size_on_disk_mb"], summary["wall_time_s"])
        return summary

    def load(self, source: Path, manifest: dict[str, Any], device: str, dtype: str,
             threads: int | None) -> Loaded:
        from transformers import AutoConfig, AutoTokenizer

        config = AutoConfig.from_pretrained(source)
        kept = manifest["kept_heads"]
        model = pruned_skeleton(config, kept, compute_dtype.torch_dtype(dtype), source)
        load_checked(model, read_state(source), source)
        model.to(device_string(device)).eval()
        removed = sum(config.num_attention_heads - len(h["query"]) for h in kept)
        return Loaded(model, AutoTokenizer.from_pretrained(source), {
            "loader": "head_prune", "query_heads_removed": removed})

    def describe(self, checkpoint_dir: Path) -> checkpoint.Description:
        # structural pruning: what remains is dense
        return checkpoint.dense_description(checkpoint_dir)

    def weight_bytes(self, parameters: float, variant: dict[str, Any], arch: Any,
                     checkpoint_dtype: str | None) -> float:
        # an upper bound: how many heads go is known only after the analysis
        return checkpoint.dense_weight_bytes(parameters, variant, checkpoint_dtype)


def read_heads(checkpoint_dir: str | Path) -> dict[str, Any]:
    """The per-layer record ``head_prune.json`` of a head_prune checkpoint."""
    return json.loads((Path(checkpoint_dir) / HEADS_FILE).read_text(encoding="utf-8"))


def pruned_skeleton(config: Any, kept: list[dict[str, list[int]]], torch_dtype: Any,
                    source: Path) -> Any:
    """A model of ``config`` whose attention modules have the ``kept`` heads, weights not
    initialised (the caller loads every one of them)."""
    from transformers import AutoModelForCausalLM
    from transformers.initialization import no_init_weights

    if len(kept) != config.num_hidden_layers:
        raise ValueError(f"{source}: the manifest lists kept heads of {len(kept)} layers, "
                         f"the model has {config.num_hidden_layers}")
    with no_init_weights():
        model = AutoModelForCausalLM.from_config(config, dtype=torch_dtype)
        for layer, heads in enumerate(kept):
            if (len(heads["query"]) < config.num_attention_heads
                    or len(heads["kv"]) < _kv_heads(config)):
                _resize_attention(_attention(model, layer), len(heads["query"]),
                                  len(heads["kv"]))
    return model


def read_state(source: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    state: dict[str, Any] = {}
    for path in checkpoint_info.weight_files(source):
        if path.suffix == ".safetensors":
            state.update(load_file(path))
    return state


def load_checked(model: Any, state: dict[str, Any], source: Path,
                 placed: set[str] = frozenset()) -> None:
    """Load ``state`` into ``model``; every weight must come from it (or be ``placed``
    already, or be the tied output embedding), and nothing in it may be left over."""
    result = model.load_state_dict(state, strict=False)
    tied = ({"lm_head.weight"} if getattr(model.config, "tie_word_embeddings", False)
            else set())
    missing = set(result.missing_keys) - tied - set(placed)
    if missing or result.unexpected_keys:
        raise ValueError(f"{source}: the saved weights do not match the pruned model "
                         f"(missing {sorted(missing)[:5]}, unexpected "
                         f"{sorted(result.unexpected_keys)[:5]})")
    if tied:
        model.tie_weights()
