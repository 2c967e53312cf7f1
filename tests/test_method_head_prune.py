"""Method head_prune on the demo model: statistic, structural removal, saved shapes, reload."""

from __future__ import annotations

import copy
import json

import pytest

from conftest import REPO, SCHEMA, demo_config, tiny_gpt2
from llm_footprint import compression
from llm_footprint.compression import head_prune
from llm_footprint.compression.head_prune import plan_layer, removed_parameters
from llm_footprint.schema import ConfigError
from llm_footprint.study import load_study

PPL_TEXT = (REPO / "data" / "demo" / "quality" / "wikitext_style.txt").read_text(
    encoding="utf-8")[:2000]
# small enough for 2 shared cores; the statistic is stable enough on a few texts for layer 18,
# whose last group (query heads 6-8) attends almost only to one token (s = 0.87, 0.99, 1.00
# over 32 texts of 128 tokens)
SMALL_CALIBRATION = {"source": "pydoc_topics", "n_samples": 4, "max_tokens": 64, "seed": 0}


def _variant(**keys) -> dict:
    """A head_prune variant with the schema's defaults filled in, through the study loader."""
    config = demo_config()
    config["variants"]["hp"] = {"method": "head_prune", "dtype": "float32",
                                "calibration": dict(SMALL_CALIBRATION), **keys}
    load_study(config, SCHEMA)
    return config["variants"]["hp"]


def _file_shapes(folder) -> dict[str, list[int]]:
    from safetensors import safe_open

    shapes = {}
    for path in sorted(folder.glob("*.safetensors")):
        with safe_open(str(path), framework="pt") as handle:
            for name in handle.keys():
                shapes[name] = list(handle.get_slice(name).get_shape())
    return shapes


def _count(shapes: dict[str, list[int]]) -> int:
    total = 0
    for shape in shapes.values():
        n = 1
        for dim in shape:
            n *= dim
        total += n
    return total


@pytest.fixture(scope="module")
def pruned_08(demo_model_dir, tmp_path_factory):
    import torch

    torch.set_num_threads(2)
    out = tmp_path_factory.mktemp("hp") / "hp-08"
    variant = _variant(threshold=0.8)
    summary = compression.compress("smollm2-135m", "hp-08", variant, demo_model_dir, out,
                                   threads=2)
    return out, summary


def test_plan_layer_rules():
    scores = [0.95, 0.92, 0.91, 0.5, 0.95, 0.2, 0.93, 0.1, 0.99]
    # whole groups: only group 0 (heads 0-2) is entirely above 0.9
    assert plan_layer(scores, 3, 0.9, "whole_group", 1) == ([3, 4, 5, 6, 7, 8], [1, 2])
    # the same count per group: every group has >= 1 concentrated head; the top one goes
    assert plan_layer(scores, 3, 0.9, "same_per_group", 1) == ([1, 2, 3, 5, 6, 7], [0, 1, 2])
    # never every head: all concentrated keeps one group / one head per group
    assert plan_layer([1.0] * 9, 3, 0.5, "whole_group", 1) == ([6, 7, 8], [2])
    kept_q, kept_kv = plan_layer([1.0] * 9, 3, 0.5, "same_per_group", 1)
    assert len(kept_q) == 3 and kept_kv == [0, 1, 2]
    assert plan_layer([1.0] * 9, 3, 0.5, "whole_group", 4)[1] == [1, 2]
    # multi-head attention: per-head pruning
    assert plan_layer([0.95, 0.5, 0.97, 0.1], 4, 0.9, "whole_group", 1) == ([1, 3], [1, 3])


def test_pruned_checkpoint_shapes_and_parameters(pruned_08, demo_model_dir):
    out, summary = pruned_08
    heads = head_prune.read_heads(out)
    removed = [r for r in heads["layers"] if r["removed_query_heads"]]
    assert removed, f"threshold 0.8 removed no head: {summary['heads_removed_per_layer']}"
    before, after = _file_shapes(demo_model_dir), _file_shapes(out)
    head_dim, hidden = 64, 576
    expected = 0
    for record in heads["layers"]:
        prefix = f"model.layers.{record['layer']}.self_attn"
        n_q, n_kv = len(record["kept_query_heads"]), len(record["kept_kv_heads"])
        # the file shows the kept heads, whatever the summary says
        assert after[f"{prefix}.q_proj.weight"] == [n_q * head_dim, hidden]
        assert after[f"{prefix}.k_proj.weight"] == [n_kv * head_dim, hidden]
        assert after[f"{prefix}.v_proj.weight"] == [n_kv * head_dim, hidden]
        assert after[f"{prefix}.o_proj.weight"] == [hidden, n_q * head_dim]
        assert n_q == 9 - len(record["removed_query_heads"]) and n_q >= 1
        expected += removed_parameters(hidden, head_dim, 9, 3, n_q, n_kv, bias=False)
    assert expected > 0
    assert _count(before) - _count(after) == expected
    assert summary["parameters_before"] - summary["parameters_after"] == expected
    assert summary["parameters_in_files"] == _count(after)
    assert summary["query_heads_removed"] == sum(9 - int(after[
        f"model.layers.{i}.self_attn.q_proj.weight"][0] / head_dim) for i in range(30))
    manifest = json.loads((out / "manifest.json").read_text())
    assert [len(k["query"]) for k in manifest["kept_heads"]] == [
        after[f"model.layers.{i}.self_attn.q_proj.weight"][0] // head_dim for i in range(30)]
    # the recorded size is the files' size
    description = compression.describe(out)
    size = sum(p.stat().st_size for p in out.glob("*.safetensors")) / 1e6
    assert description.size_on_disk_mb == pytest.approx(size, abs=0.01)
    assert description.sparsity == 0.0 and description.bits_per_weight == 32
    assert summary["size_on_disk_mb"] == pytest.approx(size, abs=0.01)
    for key in ("threshold", "seed", "threads", "compute_dtype", "wall_time_s", "layers"):
        assert key in summary
    assert all(0.0 <= s <= 1.0 for r in heads["layers"] for s in r["max_attention"])


def test_pruned_checkpoint_reloads_with_the_same_logits(pruned_08, demo_model_dir):
    import torch
    from transformers import AutoModelForCausalLM

    from llm_footprint.loading import load_for_inference
    from llm_footprint.quality.perplexity import token_perplexity

    out, _ = pruned_08
    loaded = load_for_inference(out, threads=2)
    model, tokenizer = loaded.model, loaded.tokenizer
    # the same surgery in memory on the original weights, from the recorded kept heads
    reference = AutoModelForCausalLM.from_pretrained(demo_model_dir, dtype=torch.float32).eval()
    for layer, kept in enumerate(head_prune.read_heads(out)["layers"]):
        if kept["removed_query_heads"]:
            head_prune.shrink_attention(reference.model.layers[layer].self_attn,
                                        kept["kept_query_heads"], kept["kept_kv_heads"])
    ids = tokenizer("The quick brown fox jumps over the lazy dog.", return_tensors="pt")
    with torch.no_grad():
        got = model(**ids).logits
        want = reference(**ids).logits
    assert torch.allclose(got, want, atol=1e-4), (got - want).abs().max()
    # generation with the KV cache
    generated = model.generate(**ids, max_new_tokens=6, do_sample=False)
    assert generated.shape[1] == ids["input_ids"].shape[1] + 6
    pruned = token_perplexity(model, tokenizer, PPL_TEXT, context_tokens=256)["token_perplexity"]
    assert pruned == pruned and pruned < 1e4


def test_threshold_09_chained_after_none(demo_model_dir, tmp_path):
    """The paper's 0.9 threshold, on a method-none checkpoint as the earlier step."""
    from llm_footprint.loading import load_for_inference

    full = demo_config()["variants"]["full"]
    step = tmp_path / "full"
    compression.compress("smollm2-135m", "full", full, demo_model_dir, step)
    out = tmp_path / "hp-09"
    summary = compression.compress("smollm2-135m", "hp-09", _variant(threshold=0.9), step, out,
                                   threads=2)
    assert summary["follows"]["method"] == "none"
    shapes = _file_shapes(out)
    kept = sum(shapes[f"model.layers.{i}.self_attn.q_proj.weight"][0] // 64 for i in range(30))
    assert 270 - kept == summary["query_heads_removed"]
    loaded = load_for_inference(out, threads=2)
    ids = loaded.tokenizer("Hello", return_tensors="pt")
    assert loaded.model.generate(**ids, max_new_tokens=3, do_sample=False).shape[1] == \
        ids["input_ids"].shape[1] + 3


def test_same_per_group_keeps_every_kv_head(demo_model_dir, tmp_path):
    import torch

    from llm_footprint.loading import load_for_inference

    calibration = {**SMALL_CALIBRATION, "n_samples": 2}
    out = tmp_path / "hp-spg"
    summary = compression.compress(
        "smollm2-135m", "hp-spg", _variant(threshold=0.6, gqa_rule="same_per_group",
                                           calibration=calibration),
        demo_model_dir, out, threads=2)
    shapes = _file_shapes(out)
    assert summary["kv_heads_removed"] == 0 and summary["query_heads_removed"] > 0
    for i in range(30):
        n_q = shapes[f"model.layers.{i}.self_attn.q_proj.weight"][0] // 64
        assert shapes[f"model.layers.{i}.self_attn.k_proj.weight"][0] == 3 * 64
        assert n_q % 3 == 0 and n_q >= 3
    loaded = load_for_inference(out, threads=2)
    ids = loaded.tokenizer("Hello there", return_tensors="pt")
    with torch.no_grad():
        assert torch.isfinite(loaded.model(**ids).logits).all()
    assert loaded.model.generate(**ids, max_new_tokens=3, do_sample=False).shape[1] == \
        ids["input_ids"].shape[1] + 3


def test_gpt2_fused_attention(demo_model_dir, tmp_path):
    """GPT-2's fused c_attn: a tiny random GPT-2 (the demo tokenizer), every head above a low
    threshold, two of four kept per layer by min_heads_per_layer."""
    import torch
    from transformers import GPT2LMHeadModel

    from llm_footprint.loading import load_for_inference

    source = tiny_gpt2(tmp_path / "tiny-gpt2", demo_model_dir, n_embd=64)
    out = tmp_path / "hp-gpt2"
    summary = compression.compress(
        "tiny", "hp", _variant(threshold=0.01, min_heads_per_layer=2,
                               calibration={**SMALL_CALIBRATION, "n_samples": 2}),
        source, out, threads=2)
    shapes = _file_shapes(out)
    for i in range(2):
        assert shapes[f"transformer.h.{i}.attn.c_attn.weight"] == [64, 3 * 2 * 16]
        assert shapes[f"transformer.h.{i}.attn.c_attn.bias"] == [3 * 2 * 16]
        assert shapes[f"transformer.h.{i}.attn.c_proj.weight"] == [2 * 16, 64]
    assert _count(_file_shapes(source)) - _count(shapes) == \
        summary["parameters_before"] - summary["parameters_after"] == \
        2 * removed_parameters(64, 16, 4, 4, 2, 2, bias=True)
    loaded = load_for_inference(out, threads=2)
    reference = GPT2LMHeadModel.from_pretrained(source).eval()
    for layer, kept in enumerate(head_prune.read_heads(out)["layers"]):
        head_prune.shrink_attention(reference.transformer.h[layer].attn,
                                    kept["kept_query_heads"], kept["kept_kv_heads"])
    ids = loaded.tokenizer("Hello there, general", return_tensors="pt")
    with torch.no_grad():
        assert torch.allclose(loaded.model(**ids).logits, reference(**ids).logits, atol=1e-4)
    assert loaded.model.generate(**ids, max_new_tokens=3, do_sample=False).shape[1] == \
        ids["input_ids"].shape[1] + 3


def test_cannot_follow_a_quantized_checkpoint(tmp_path):
    earlier = tmp_path / "gptq"
    earlier.mkdir()
    (earlier / "manifest.json").write_text(json.dumps(
        {"method": "gptq", "weights_dir": ".", "dtype": "auto"}))
    with pytest.raises(ConfigError) as caught:
        compression.compress("smollm2-135m", "hp", _variant(), earlier, tmp_path / "out")
    assert caught.value.key == "variants.hp.method" and "cannot follow gptq" in str(caught.value)


def test_unsupported_architecture_is_rejected_naming_method():
    with pytest.raises(ConfigError) as caught:
        head_prune.HeadPrune().check_model("variants.hp", _variant(), "opt",
                                           {"model_type": "opt", "num_attention_heads": 12})
    assert caught.value.key == "variants.hp.method" and "'opt'" in str(caught.value)


def test_defaults_are_filled():
    variant = _variant()
    assert variant["threshold"] == 0.9 and variant["gqa_rule"] == "whole_group"
    assert variant["min_heads_per_layer"] == 1
    config = demo_config()
    config["variants"]["hp"] = {"method": "head_prune"}
    load_study(config, SCHEMA)
    assert config["variants"]["hp"]["calibration"]["n_samples"] == 32
    assert config["variants"]["hp"]["calibration"]["max_tokens"] == 128


BAD = [
    ({"threshold": 1.5}, "variants.hp.threshold", "maximum"),
    ({"threshold": 0}, "variants.hp.threshold", "minimum"),
    ({"gqa_rule": "any"}, "variants.hp.gqa_rule", "not one of"),
    ({"min_heads_per_layer": 0}, "variants.hp.min_heads_per_layer", "minimum"),
    ({"treshold": 0.9}, "variants.hp.treshold", "unknown key for method 'head_prune'"),
    ({"bits": 4}, "variants.hp.bits", "unknown key for method 'head_prune'"),
]


@pytest.mark.parametrize("keys,key,words", BAD, ids=[str(b[0]) for b in BAD])
def test_bad_keys_are_rejected_naming_the_key(keys, key, words):
    config = copy.deepcopy(demo_config())
    config["variants"]["hp"] = {"method": "head_prune", **keys}
    with pytest.raises(ConfigError) as caught:
        load_study(config, SCHEMA)
    assert caught.value.key == key, str(caught.value)
    assert words in str(caught.value), str(caught.value)
