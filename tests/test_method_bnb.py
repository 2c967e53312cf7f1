"""Method bnb on the demo model: saved bytes, reload, perplexity, generation, bad keys."""

from __future__ import annotations

import copy

import pytest

from conftest import REPO, SCHEMA, demo_config
from llm_footprint import compression
from llm_footprint.compression import bnb
from llm_footprint.loading import load_for_inference
from llm_footprint.schema import ConfigError
from llm_footprint.study import load_study

TEXT = (REPO / "data" / "demo" / "quality" / "wikitext_style.txt").read_text(
    encoding="utf-8")[:2000]


def _ppl(model, tokenizer) -> float:
    from llm_footprint.quality.perplexity import token_perplexity

    return token_perplexity(model, tokenizer, TEXT, context_tokens=256)["token_perplexity"]


def _variant(**keys) -> dict:
    return {"method": "bnb", "dtype": "auto", "compute_dtype": "auto", "bits": 8,
            "llm_int8_threshold": None, "quant_type": None, "double_quant": None, **keys}


@pytest.fixture(scope="module")
def baseline_ppl(demo_model_dir) -> float:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(2)
    model = AutoModelForCausalLM.from_pretrained(demo_model_dir, dtype=torch.float32)
    return _ppl(model, AutoTokenizer.from_pretrained(demo_model_dir))


def _compress(demo_model_dir, tmp_path, variant_id, variant):
    out = tmp_path / "checkpoints" / variant_id
    summary = compression.compress("smollm2-135m", variant_id, variant, demo_model_dir, out,
                                   threads=2)
    return out, summary


def _counted(out):
    """Bytes and elements of the quantized linear weights, counted here from the file."""
    import json

    from safetensors import safe_open

    with safe_open(str(out / "model.safetensors"), "pt") as handle:
        names = list(handle.keys())
        tensors = {name: handle.get_tensor(name) for name in names}
    modules = [n[: -len(".weight")] for n, t in tensors.items()
               if n.endswith(".weight") and t.dtype.itemsize == 1 and not t.is_floating_point()]
    elements = stored = 0
    for module in modules:
        state = [n for n in names if n.startswith(f"{module}.weight.quant_state.")]
        if state:
            shape = json.loads(bytes(tensors[state[0]].tolist()).decode())["shape"]
            elements += shape[0] * shape[1]
        else:
            elements += tensors[f"{module}.weight"].numel()
        stored += sum(t.numel() * t.element_size() for n, t in tensors.items()
                      if n.startswith(f"{module}.weight") or n == f"{module}.SCB")
    return len(modules), elements, stored


def test_bnb_8bit_round_trips_within_two_percent(demo_model_dir, tmp_path, baseline_ppl):
    out, summary = _compress(demo_model_dir, tmp_path, "bnb-8bit", _variant(bits=8))
    modules, elements, stored = _counted(out)
    assert modules == 30 * 7 and summary["quantized_modules"] == modules
    described = compression.describe(out)
    assert described.bits_per_weight == pytest.approx(8 * stored / elements, abs=1e-3)
    assert 8.0 < described.bits_per_weight < 8.2
    assert described.size_on_disk_mb == pytest.approx(summary["size_on_disk_mb"], abs=1e-3)
    assert summary["compute_dtype"] in ("float32", "bfloat16")
    loaded = load_for_inference(out, threads=2)
    ppl = _ppl(loaded.model, loaded.tokenizer)
    assert abs(ppl / baseline_ppl - 1) < 0.02, (ppl, baseline_ppl)
    ids = loaded.tokenizer("The capital of France is", return_tensors="pt")
    generated = loaded.model.generate(**ids, max_new_tokens=4, do_sample=False)
    assert generated.shape[1] == ids["input_ids"].shape[1] + 4


def test_bnb_nf4_reloads_exactly_and_generates(demo_model_dir, tmp_path, baseline_ppl):
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    out, summary = _compress(demo_model_dir, tmp_path, "bnb-nf4", _variant(bits=4))
    assert summary["bnb_quant_type"] == "nf4" and summary["bnb_double_quant"] is True
    modules, elements, stored = _counted(out)
    described = compression.describe(out)
    assert described.bits_per_weight == pytest.approx(8 * stored / elements, abs=1e-3)
    assert 4.0 < described.bits_per_weight < 4.3
    loaded = load_for_inference(out, threads=2)
    reloaded = _ppl(loaded.model, loaded.tokenizer)
    assert baseline_ppl < reloaded < 3 * baseline_ppl
    # the same quantization in memory, never saved, computing in the dtype the loader chose
    # for this CPU: the reloaded checkpoint matches it
    dtype = getattr(torch, loaded.dtype)
    fresh = AutoModelForCausalLM.from_pretrained(
        demo_model_dir, dtype=dtype, quantization_config=BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype), device_map={"": "cpu"})
    assert _ppl(fresh, loaded.tokenizer) == pytest.approx(reloaded, rel=1e-6)
    ids = loaded.tokenizer("The capital of France is", return_tensors="pt")
    generated = loaded.model.generate(**ids, max_new_tokens=4, do_sample=False)
    assert generated.shape[1] == ids["input_ids"].shape[1] + 4


def test_bnb_refuses_a_quantized_input(tmp_path):
    folder = tmp_path / "gptq-ckpt"
    folder.mkdir()
    (folder / "manifest.json").write_text('{"method": "gptq", "weights_dir": "."}')
    with pytest.raises(ConfigError) as caught:
        compression.compress("m", "v", _variant(bits=8), folder, tmp_path / "out")
    assert caught.value.key == "variants.v.method" and "gptq" in str(caught.value)


BAD = [
    ({"bits": 3}, "variants.bad.bits", "not one of"),
    ({"bits": 4, "quant_type": "int4"}, "variants.bad.quant_type", "not one of"),
    ({"bits": 8, "quant_type": "nf4"}, "variants.bad.quant_type", "bits: 4 only"),
    ({"bits": 8, "double_quant": False}, "variants.bad.double_quant", "bits: 4 only"),
    ({"bits": 4, "llm_int8_threshold": 5.0}, "variants.bad.llm_int8_threshold", "bits: 8 only"),
    ({"bits": 8, "llm_int8_threshold": 0}, "variants.bad.llm_int8_threshold", ""),
    ({"bits": 4, "compute_dtype": "int8"}, "variants.bad.compute_dtype", "not one of"),
    ({"bits": 8, "dtype": "float16"}, "variants.bad.dtype", "compute_dtype"),
    ({"bits": 8, "group_size": 64}, "variants.bad.group_size", "unknown key"),
]


@pytest.mark.parametrize("keys,key,words", BAD, ids=[str(b[0]) for b in BAD])
def test_bad_bnb_keys_are_refused_naming_the_key(keys, key, words):
    config = copy.deepcopy(demo_config())
    config["variants"]["bad"] = {"method": "bnb", **keys}
    with pytest.raises(ConfigError) as caught:
        load_study(config, SCHEMA)
    assert caught.value.key == key, str(caught.value)
    assert words in str(caught.value)


def test_bnb_defaults_and_estimates():
    config = copy.deepcopy(demo_config())
    config["variants"]["q4"] = {"method": "bnb", "bits": 4}
    load_study(config, SCHEMA)
    assert bnb.settings(config["variants"]["q4"]) == {"bits": 4, "quant_type": "nf4",
                                                      "double_quant": True}
    assert bnb.settings({"bits": 8}) == {"bits": 8, "llm_int8_threshold": 6.0}
    assert bnb.bits_per_weight_estimate(4, True, 576) == pytest.approx(4 + 8.125 / 64)
