"""Every compression method against its naive baseline, on the real demo model.

GPTQ is compared with round-to-nearest (method rtn) at equal bits, group size and sym, in the
session's demo-study run (conftest.demo_study_run: both variants compressed and scored by the
workflow itself); SparseGPT 2:4 with magnitude 2:4 on the same layers, scored by the same
perplexity code on the same text. Plus the baselines' own invariants and config checks.
"""

from __future__ import annotations

import copy
import json
import logging

import pytest

from conftest import REPO, SCHEMA, demo_config, tiny_gpt2
from llm_footprint import calibration, compression
from llm_footprint.compression import magnitude
from llm_footprint.loading import load_for_inference
from llm_footprint.schema import ConfigError
from llm_footprint.study import load_study

MODEL = "smollm2-135m"
TEXT = (REPO / "data/demo/quality/wikitext_style.txt").read_text(encoding="utf-8")


def _quality_perplexity(workdir, variant: str) -> float:
    path = workdir / "results/quality" / MODEL / f"{variant}.json"
    rows = json.loads(path.read_text())["rows"]
    return next(r["value"] for r in rows
                if r["task"] == "perplexity" and r["metric"] == "token_perplexity")


def _summary(workdir, variant: str) -> dict:
    path = workdir / "results/checkpoints" / MODEL / variant / "compress_summary.json"
    return json.loads(path.read_text())


def _token_perplexity(folder) -> float:
    from llm_footprint.quality.perplexity import token_perplexity

    loaded = load_for_inference(folder, threads=2)
    return token_perplexity(loaded.model, loaded.tokenizer, TEXT[:4000],
                            context_tokens=512)["token_perplexity"]


@pytest.mark.e2e
def test_gptq_beats_round_to_nearest_at_equal_settings(demo_study_run):
    workdir, _ = demo_study_run
    gptq, rtn = _summary(workdir, "gptq-4bit"), _summary(workdir, "rtn-4bit")
    for key in ("bits", "group_size", "sym", "compute_dtype"):
        assert gptq[key] == rtn[key], key
    assert rtn["method"] == "rtn" and rtn["calibration"] is None
    assert gptq["calibration"]["source"] == "text_file"
    assert gptq["calibration"]["tokens_total"] > 0
    # the same format and size: only how the integers were chosen differs
    assert rtn["size_on_disk_mb"] == pytest.approx(gptq["size_on_disk_mb"], rel=0.01)
    gptq_ppl = _quality_perplexity(workdir, "gptq-4bit")
    rtn_ppl = _quality_perplexity(workdir, "rtn-4bit")
    full_ppl = _quality_perplexity(workdir, "full")
    print(f"\ntoken perplexity: full {full_ppl:.3f}, gptq {gptq_ppl:.3f}, rtn {rtn_ppl:.3f}")
    assert full_ppl < gptq_ppl < rtn_ppl


@pytest.mark.e2e
def test_sparsegpt_beats_magnitude_pruning_at_equal_structure(demo_study_run, demo_model_dir,
                                                              tmp_path):
    workdir, _ = demo_study_run
    sparse = workdir / "results/checkpoints" / MODEL / "sparsegpt-2of4"
    out = tmp_path / "magnitude-2of4"
    variant = {"method": "magnitude", "structure": "2:4", "sparsity": None, "dtype": "auto"}
    summary = compression.compress(MODEL, "magnitude-2of4", variant, demo_model_dir, out,
                                   threads=2)
    # exactly 2 of 4 zeroed; a group may hold a third zero the model already had
    assert summary["calibration"] is None
    assert summary["measured_sparsity"] == pytest.approx(0.5, abs=1e-4)
    sparse_summary = _summary(workdir, "sparsegpt-2of4")
    assert sorted(summary["sparsity_per_layer"]) == sorted(sparse_summary["sparsity_per_layer"])
    assert compression.describe(out).sparsity == pytest.approx(
        compression.describe(sparse).sparsity, abs=1e-4)
    sparse_ppl, magnitude_ppl = _token_perplexity(sparse), _token_perplexity(out)
    print(f"\ntoken perplexity 2:4: sparsegpt {sparse_ppl:.1f}, magnitude {magnitude_ppl:.1f}")
    assert sparse_ppl < magnitude_ppl


def test_magnitude_mask_prunes_the_smallest_weights():
    import torch

    torch.manual_seed(0)
    weight = torch.randn(6, 16)
    mask = magnitude.magnitude_mask(weight, 2, 4, 0.5)
    groups = mask.reshape(6, -1, 4)
    assert bool((groups.sum(dim=2) == 2).all())
    magnitudes = weight.abs().reshape(6, -1, 4)
    # every pruned weight is no larger than every kept weight of its group
    pruned_max = torch.where(groups, magnitudes, torch.zeros_like(magnitudes)).amax(dim=2)
    kept_min = torch.where(~groups, magnitudes, torch.full_like(magnitudes, 1e9)).amin(dim=2)
    assert bool((pruned_max <= kept_min).all())
    mask = magnitude.magnitude_mask(weight, 0, 0, 0.25)
    assert int(mask.sum()) == 24
    assert float(weight.abs()[mask].max()) <= float(weight.abs()[~mask].min())


def test_magnitude_prunes_gpt2_conv1d_along_its_inputs(demo_model_dir, tmp_path):
    """GPT-2 stores its Conv1D weights input-major: 2:4 must hold along the input dimension,
    as for the nn.Linear of Llama-style models (the paper's GPT-2 rows use it)."""
    from safetensors import safe_open

    source = tiny_gpt2(tmp_path / "tiny-gpt2", demo_model_dir, n_embd=64)
    out = tmp_path / "magnitude"
    variant = {"method": "magnitude", "structure": "2:4", "sparsity": None, "dtype": "auto"}
    summary = compression.compress("tiny-gpt2", "magnitude", variant, source, out, threads=2)
    # per block: c_attn, attn.c_proj, c_fc, mlp.c_proj
    assert summary["pruned_layers"] == 2 * 4
    with safe_open(out / "model.safetensors", "pt") as handle:
        for name in summary["sparsity_per_layer"]:
            weight = handle.get_tensor(name)  # (inputs, outputs)
            per_group = (weight.t() == 0).reshape(weight.shape[1], -1, 4).sum(dim=2)
            assert bool((per_group == 2).all()), name
    assert compression.describe(out).sparsity == pytest.approx(0.5, abs=1e-6)


def _study(**variant):
    config = copy.deepcopy(demo_config())
    config["variants"]["baseline"] = variant
    return load_study(config, SCHEMA, search_dirs=[REPO])


def test_baseline_defaults_follow_the_library():
    study = _study(method="rtn", group_size=64)
    assert study.variant("baseline") == {"method": "rtn", "bits": 4, "group_size": 64,
                                         "sym": True, "kernel": "auto", "dtype": "auto"}
    study = _study(method="magnitude")
    assert study.variant("baseline")["structure"] == "2:4"
    assert compression.method("rtn").needs_calibration is False
    assert compression.method("magnitude").needs_calibration is False


@pytest.mark.parametrize("variant,key,words", [
    ({"method": "rtn", "group_size": 64, "sym": False}, "variants.baseline.sym", "device cpu"),
    ({"method": "gptq", "group_size": 64, "sym": False}, "variants.baseline.sym", "device cpu"),
    ({"method": "rtn", "group_size": 64, "calibration": {}}, "variants.baseline.calibration",
     "unknown key"),
    ({"method": "magnitude", "structure": "3:2"}, "variants.baseline.structure", "0 < N < M"),
    ({"method": "magnitude", "sparsity": 0.3}, "variants.baseline.sparsity", "unstructured only"),
    ({"method": "magnitude", "block_size": 128}, "variants.baseline.block_size", "unknown key"),
], ids=["rtn-asym-on-cpu", "gptq-asym-on-cpu", "rtn-calibration", "mag-nm", "mag-sparsity",
        "mag-block-size"])
def test_bad_baseline_keys_are_refused_naming_the_key(variant, key, words):
    with pytest.raises(ConfigError) as caught:
        _study(**variant)
    assert caught.value.key == key, str(caught.value)
    assert words in str(caught.value)


def test_short_calibration_warns_naming_the_key(demo_model_dir, caplog):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(demo_model_dir)
    spec = demo_config()["variants"]["gptq-4bit"]["calibration"]
    spec = {**spec, "path": str(REPO / spec["path"]), "n_samples": 8, "min_chars": 400}
    with caplog.at_level(logging.WARNING, logger="llm_footprint.calibration"):
        _, record = calibration.build(spec, tokenizer, "variants.gptq-4bit.calibration",
                                      calibration.GPTQMODEL)
    assert record["below_guidance_of"] == "GPTQModel" and record["n_samples"] == 8
    assert record["tokens_total"] > 8 * 100
    assert any("variants.gptq-4bit.calibration" in m and "256" in m for m in caplog.messages)
    enough = calibration.Guidance(8, 16, "a test")
    _, record = calibration.build(spec, tokenizer, "k", enough)
    assert record["below_guidance_of"] is None


def test_demo_calibration_is_disjoint_from_every_evaluation_text():
    texts = calibration.text_file_texts(
        REPO / demo_config()["variants"]["gptq-4bit"]["calibration"]["path"])
    assert len(texts) >= 64
    evaluation = "".join(p.read_text(encoding="utf-8").lower()
                         for p in (REPO / "data/demo").rglob("*") if p.is_file()
                         and "calibration" not in p.parts)
    for text in texts:
        words = text.lower().split()
        # no run of 12 words of a calibration text stands in an evaluation or prompt file
        for start in range(0, len(words) - 12, 6):
            assert " ".join(words[start:start + 12]) not in evaluation
