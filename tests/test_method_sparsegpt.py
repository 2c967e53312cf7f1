"""Method sparsegpt on the demo model: the N:M pattern in the saved file, ratio, reload, keys."""

from __future__ import annotations

import copy

import pytest

from conftest import REPO, SCHEMA, demo_config
from llm_footprint import compression
from llm_footprint.compression import sparsegpt
from llm_footprint.loading import load_for_inference
from llm_footprint.schema import ConfigError
from llm_footprint.study import load_study

TEXT = (REPO / "data" / "demo" / "quality" / "wikitext_style.txt").read_text(
    encoding="utf-8")[:2000]
CALIBRATION = {"source": "pydoc_topics", "n_samples": 8, "max_tokens": 128, "min_chars": 400,
               "seed": 0, "split": "train", "text_field": "text", "path": None, "dataset": None,
               "dataset_config": None, "data_files": None}


def _variant(**keys) -> dict:
    return {"method": "sparsegpt", "dtype": "auto", "structure": "2:4", "sparsity": None,
            "block_size": 128, "damp_percent": 0.01, "calibration": CALIBRATION, **keys}


def _ppl(model, tokenizer) -> float:
    from llm_footprint.quality.perplexity import token_perplexity

    return token_perplexity(model, tokenizer, TEXT, context_tokens=256)["token_perplexity"]


def _tensors(folder):
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), "pt") as handle:
        return {name: handle.get_tensor(name) for name in handle.keys()}


def _linear_weights(tensors):
    return {n: t for n, t in tensors.items()
            if n.startswith("model.layers.") and n.endswith("_proj.weight")}


@pytest.mark.e2e
def test_sparsegpt_2_4_on_the_demo_model(demo_study_run):
    """The demo study's 2:4 checkpoint, as its compress job pruned and saved it."""
    import json

    import torch

    torch.set_num_threads(2)
    out = demo_study_run[0] / "results/checkpoints/smollm2-135m/sparsegpt-2of4"
    summary = json.loads((out / "compress_summary.json").read_text())
    assert summary["method"] == "sparsegpt" and summary["structure"] == "2:4"
    saved = _tensors(out)
    original = _tensors(demo_study_run[0] / "resources/models/smollm2-135m")
    pruned = _linear_weights(saved)
    assert len(pruned) == 30 * 7 == summary["pruned_layers"]
    zeros = elements = 0
    for name, weight in pruned.items():
        groups = (weight == 0).reshape(weight.shape[0], -1, 4)
        per_group = groups.sum(dim=2)
        # exactly 2 zeros in every group of 4 along the input dimension; a third or fourth
        # only where the input weight was already exactly zero
        assert bool((per_group >= 2).all()), name
        was_zero = (original[name] == 0).reshape(weight.shape[0], -1, 4)
        extra = per_group > 2
        assert bool((was_zero.sum(dim=2)[extra] >= per_group[extra] - 2).all()), name
        zeros += int((weight == 0).sum())
        elements += weight.numel()
        assert summary["sparsity_per_layer"][name]["groups_with_n_zeros"] == 1.0
    described = compression.describe(out)
    assert described.sparsity == pytest.approx(zeros / elements, abs=1e-6)
    assert described.sparsity == pytest.approx(0.5, abs=1e-4)
    assert described.bits_per_weight == 32.0
    # embeddings, norms and the (tied) head are left as they were
    assert torch.equal(saved["model.embed_tokens.weight"], original["model.embed_tokens.weight"])
    assert summary["sparse_kernel"] == "none (dense on CPU)"
    loaded = load_for_inference(out, threads=2)
    assert loaded.details["sparse_kernel"] == "none (dense on CPU)"
    ppl = _ppl(loaded.model, loaded.tokenizer)
    assert ppl == ppl and ppl < float("inf")  # finite; 2:4 raises it a lot on a 135M model
    ids = loaded.tokenizer("The capital of France is", return_tensors="pt")
    generated = loaded.model.generate(**ids, max_new_tokens=4, do_sample=False)
    assert generated.shape[1] == ids["input_ids"].shape[1] + 4


def test_sparsegpt_unstructured_reaches_the_ratio_per_layer(demo_model_dir, tmp_path):
    import torch

    torch.set_num_threads(2)
    out = tmp_path / "sparse-30"
    variant = _variant(structure="unstructured", sparsity=0.3,
                       calibration={**CALIBRATION, "n_samples": 4})
    summary = compression.compress("smollm2-135m", "sparse-30", variant, demo_model_dir, out,
                                   threads=2)
    for name, weight in _linear_weights(_tensors(out)).items():
        assert float((weight == 0).float().mean()) >= 0.3, name
        assert float((weight == 0).float().mean()) < 0.31, name
    assert compression.describe(out).sparsity == pytest.approx(summary["measured_sparsity"],
                                                               abs=1e-6)
    loaded = load_for_inference(out, threads=2)
    assert _ppl(loaded.model, loaded.tokenizer) < float("inf")


def test_prune_linear_keeps_n_m_exactly_on_random_weights():
    import torch

    torch.manual_seed(0)
    weight = torch.randn(8, 32)
    x = torch.randn(64, 32)
    pruned = sparsegpt.prune_linear(weight, 2 * x.t() @ x / 64, 2, 4, 0.5, 8, 0.01)
    assert bool(((pruned == 0).reshape(8, -1, 4).sum(dim=2) == 2).all())
    pruned = sparsegpt.prune_linear(weight, 2 * x.t() @ x / 64, 0, 0, 0.25, 16, 0.01)
    assert float((pruned == 0).float().mean()) == 0.25


def test_sparsegpt_refuses_a_quantized_input(tmp_path):
    folder = tmp_path / "bnb-ckpt"
    folder.mkdir()
    (folder / "manifest.json").write_text('{"method": "bnb", "weights_dir": "."}')
    with pytest.raises(ConfigError) as caught:
        compression.compress("m", "v", _variant(), folder, tmp_path / "out")
    assert caught.value.key == "variants.v.method" and "bnb" in str(caught.value)


BAD = [
    ({"structure": "4:2"}, "variants.bad.structure", "0 < N < M"),
    ({"structure": "2-4"}, "variants.bad.structure", "does not match"),
    ({"structure": "unstructured", "sparsity": 1.5}, "variants.bad.sparsity", "maximum"),
    ({"structure": "unstructured", "sparsity": 0}, "variants.bad.sparsity", "minimum"),
    ({"structure": "2:4", "sparsity": 0.5}, "variants.bad.sparsity", "unstructured only"),
    ({"sparsity": 0.5}, "variants.bad.sparsity", "unstructured only"),
    ({"structure": "3:8", "block_size": 100}, "variants.bad.block_size", "multiple of M=8"),
    ({"damp_percent": 0}, "variants.bad.damp_percent", "minimum"),
    ({"bits": 4}, "variants.bad.bits", "unknown key"),
    ({"calibration": {"source": "text_file"}}, "variants.bad.calibration.path", "required"),
]


@pytest.mark.parametrize("keys,key,words", BAD, ids=[str(b[0]) for b in BAD])
def test_bad_sparsegpt_keys_are_refused_naming_the_key(keys, key, words):
    config = copy.deepcopy(demo_config())
    config["variants"]["bad"] = {"method": "sparsegpt", **keys}
    with pytest.raises(ConfigError) as caught:
        load_study(config, SCHEMA)
    assert caught.value.key == key, str(caught.value)
    assert words in str(caught.value)


def test_structure_that_does_not_divide_the_model_is_refused(tmp_path):
    import json

    folder = tmp_path / "local-model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(
        {"model_type": "llama", "hidden_size": 576, "intermediate_size": 1536,
         "num_attention_heads": 9, "head_dim": 64}))
    # a local model folder must hold weights (checked first); an empty file is enough here
    (folder / "model.safetensors").write_bytes(b"")
    config = copy.deepcopy(demo_config())
    config["models"]["smollm2-135m"] = {"path": str(folder)}
    config["variants"]["bad"] = {"method": "sparsegpt", "structure": "2:5", "block_size": 125}
    with pytest.raises(ConfigError) as caught:
        load_study(config, SCHEMA)
    assert caught.value.key == "variants.bad.structure"
    assert "hidden_size=576" in str(caught.value) and "M=5" in str(caught.value)


def test_sparsegpt_defaults():
    config = copy.deepcopy(demo_config())
    config["variants"]["s"] = {"method": "sparsegpt"}
    load_study(config, SCHEMA)
    variant = config["variants"]["s"]
    assert variant["structure"] == "2:4" and variant["block_size"] == 128
    assert variant["damp_percent"] == 0.01 and variant["calibration"]["n_samples"] == 64
    assert sparsegpt.parse_structure("k", variant) == (2, 4, 0.5)
    assert sparsegpt.parse_structure("k", {"structure": "unstructured", "sparsity": None}) == \
        (0, 0, 0.5)
