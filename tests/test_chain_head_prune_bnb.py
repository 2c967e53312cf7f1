"""The paper's "8-Bit, 90 % AH" rows: bitsandbytes on a head-pruned checkpoint (chains
[head_prune, bnb]), on the demo model (Llama attention, GQA) and a tiny GPT-2 (fused Conv1D)."""

from __future__ import annotations

import json

import pytest

from conftest import REPO, SCHEMA, demo_config, tiny_gpt2
from llm_footprint import compression
from llm_footprint.compression import bnb_pruned, head_prune
from llm_footprint.compression.head_prune import HeadPrune
from llm_footprint.loading import load_for_inference
from llm_footprint.study import load_study

TEXT = (REPO / "data" / "demo" / "quality" / "wikitext_style.txt").read_text(
    encoding="utf-8")[:2000]
SMALL_CALIBRATION = {"source": "pydoc_topics", "n_samples": 4, "max_tokens": 64, "seed": 0}


def _ppl(model, tokenizer) -> float:
    from llm_footprint.quality.perplexity import token_perplexity

    return token_perplexity(model, tokenizer, TEXT, context_tokens=256)["token_perplexity"]


def _variants(threshold: float, hp_keys: dict | None = None, **bnb_keys) -> tuple[dict, dict]:
    """A head_prune step and a bnb step, defaults filled in by the study loader."""
    config = demo_config()
    config["variants"]["hp"] = {"method": "head_prune", "threshold": threshold,
                                "dtype": "float32", "calibration": dict(SMALL_CALIBRATION),
                                **(hp_keys or {})}
    config["variants"]["q"] = {"method": "bnb", **bnb_keys}
    load_study(config, SCHEMA)
    return config["variants"]["hp"], config["variants"]["q"]


@pytest.fixture(scope="module")
def pruned_demo(demo_model_dir, tmp_path_factory):
    import torch

    torch.set_num_threads(2)
    out = tmp_path_factory.mktemp("hp-bnb") / "hp-08"
    hp, _ = _variants(0.8, bits=8)
    summary = compression.compress("smollm2-135m", "hp-08", hp, demo_model_dir, out, threads=2)
    assert summary["query_heads_removed"] > 0
    return out


def _in_memory(pruned_dir, chosen, dtype):
    """What the chain's bnb step computes, redone here without saving: the pruned model
    loaded by head_prune and quantized in memory."""
    manifest = json.loads((pruned_dir / "manifest.json").read_text())
    model = HeadPrune().load(pruned_dir, manifest, "cpu", dtype, 2).model
    bnb_pruned.quantize(model, chosen, getattr(__import__("torch"), dtype), "cpu")
    return model.eval()


def _q_proj_rows(out) -> list[int]:
    """Output rows of every layer's saved q_proj, from the 4-bit quant state or the int8
    weight."""
    from safetensors import safe_open

    rows = []
    with safe_open(str(out / "model.safetensors"), "pt") as handle:
        names = set(handle.keys())
        for layer in range(30):
            name = f"model.layers.{layer}.self_attn.q_proj.weight"
            state = [n for n in names if n.startswith(f"{name}.quant_state.")]
            if state:
                rows.append(json.loads(bytes(handle.get_tensor(state[0]).tolist()))["shape"][0])
            else:
                rows.append(handle.get_slice(name).get_shape()[0])
    return rows


@pytest.mark.parametrize("bits,keys", [(8, {}), (4, {"quant_type": "nf4"})], ids=["8bit", "nf4"])
def test_bnb_after_head_prune_saves_the_pruned_shapes_and_reloads_the_same_bytes(
        pruned_demo, tmp_path, bits, keys):
    import torch

    _, q = _variants(0.8, bits=bits, **keys)
    out = tmp_path / f"hp-bnb{bits}"
    summary = compression.compress("smollm2-135m", f"hp-bnb{bits}", q, pruned_demo, out,
                                   threads=2)
    assert summary["input_after_step"] == "head_prune"
    assert summary["quantized_modules"] == 30 * 7
    assert (8.0 if bits == 8 else 4.0) < summary["bits_per_weight"] < (8.2 if bits == 8 else 4.6)
    kept = head_prune.read_heads(pruned_demo)["layers"]
    assert _q_proj_rows(out) == [64 * len(layer["kept_query_heads"]) for layer in kept]
    assert json.loads((out / "manifest.json").read_text())["kept_heads"] == \
        json.loads((pruned_demo / "manifest.json").read_text())["kept_heads"]
    pruned_mb = json.loads((pruned_demo / "compress_summary.json").read_text())["size_on_disk_mb"]
    assert summary["size_on_disk_mb"] < pruned_mb * (0.5 if bits == 8 else 0.4)

    loaded = load_for_inference(out, threads=2)
    assert loaded.details["kernels"] == ["Linear8bitLt" if bits == 8 else "Linear4bit"]
    reference = _in_memory(pruned_demo, compression.bnb.settings(q), loaded.dtype)
    ids = loaded.tokenizer("The capital of France is Paris, and the capital of",
                           return_tensors="pt")
    unquantized = HeadPrune().load(pruned_demo, json.loads(
        (pruned_demo / "manifest.json").read_text()), "cpu", loaded.dtype, 2).model
    with torch.no_grad():
        reloaded = loaded.model(**ids).logits
        assert torch.equal(reloaded, reference(**ids).logits)
        # quantization changed the model: a little for LLM.int8, more for 4 bits
        assert not torch.equal(reloaded, unquantized(**ids).logits)
    ppl, pruned_ppl = _ppl(loaded.model, loaded.tokenizer), _ppl(unquantized, loaded.tokenizer)
    assert abs(ppl / pruned_ppl - 1) < (0.03 if bits == 8 else 0.5), (ppl, pruned_ppl)
    generated = loaded.model.generate(**ids, max_new_tokens=3, do_sample=False)
    assert generated.shape[1] == ids["input_ids"].shape[1] + 3


def test_gpt2_conv1d_head_pruned_then_4bit(demo_model_dir, tmp_path):
    """GPT-2's Conv1D projections (input x output weights) quantized as Linear4bit after head
    pruning; a tiny random GPT-2 with the demo tokenizer."""
    import torch

    source = tiny_gpt2(tmp_path / "tiny-gpt2", demo_model_dir, n_embd=128)
    hp, q = _variants(0.01, {"min_heads_per_layer": 2,
                             "calibration": {**SMALL_CALIBRATION, "n_samples": 2}},
                      bits=4, quant_type="fp4", double_quant=False)
    compression.compress("tiny", "hp", hp, source, tmp_path / "hp", threads=2)
    out = tmp_path / "hp-fp4"
    summary = compression.compress("tiny", "hp-fp4", q, tmp_path / "hp", out, threads=2)
    # c_attn, c_proj, c_fc, mlp.c_proj of two blocks; lm_head (tied) stays
    assert summary["quantized_modules"] == 8
    loaded = load_for_inference(out, threads=2)
    attention = loaded.model.transformer.h[0].attn
    assert type(attention.c_attn).__name__ == "Linear4bit"
    assert (attention.c_attn.in_features, attention.c_attn.out_features) == (128, 3 * 2 * 32)
    reference = _in_memory(tmp_path / "hp", compression.bnb.settings(q), loaded.dtype)
    ids = loaded.tokenizer("Hello there, general", return_tensors="pt")
    with torch.no_grad():
        assert torch.equal(loaded.model(**ids).logits, reference(**ids).logits)


def test_chain_head_prune_then_bnb_is_accepted_and_shares_the_pruned_prefix():
    from llm_footprint.plan import Plan

    config = demo_config()
    ah = {"method": "head_prune", "threshold": 0.9}
    config["variants"]["ah90-8bit"] = {"method": "chain", "steps": [ah, {"method": "bnb",
                                                                         "bits": 8}]}
    config["variants"]["ah90-4bit"] = {"method": "chain", "steps": [ah, {"method": "bnb",
                                                                         "bits": 4}]}
    plan = Plan.from_config(config, SCHEMA, search_dirs=[REPO])
    steps = plan.step_dirs()
    assert len(steps) == 1 and steps[0].startswith("results/steps/smollm2-135m/1-head_prune-")
    for variant in ("ah90-8bit", "ah90-4bit"):
        assert plan.compress_source("smollm2-135m", variant) == steps[0]
        assert plan.compress_spec(variant)["chain"] == ["head_prune", "bnb"]
