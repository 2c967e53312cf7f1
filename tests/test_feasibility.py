"""Device-memory feasibility, including the thesis's LLaMA-30B case."""

from __future__ import annotations

import json

from llm_footprint import feasibility

SETTINGS = {"context_tokens": 2148, "batch_size": 1, "overhead_gb": 1.5, "activation_fraction": 0.1}
A100_40 = {"device": "cuda", "gpu_memory_gb": 40, "mem_gb": 60}
A100_80 = {"device": "cuda", "gpu_memory_gb": 80, "mem_gb": 240}
FULL = {"method": "none", "dtype": "float16"}
GPTQ4 = {"method": "gptq", "bits": 4, "group_size": 128}


def _estimate(params_b, variant, setup, tmp_path):
    return feasibility.estimate("m", "v", "s", {"hf": "x/y", "params_b": params_b}, variant, setup,
                                SETTINGS, tmp_path / "not-prepared")


def test_llama_30b_full_does_not_fit_40gb_but_its_4bit_version_does(tmp_path):
    full_40 = _estimate(32.5, FULL, A100_40, tmp_path)
    assert full_40.fits is False and full_40.weights_gb > 60
    assert _estimate(32.5, GPTQ4, A100_40, tmp_path).fits is True
    assert _estimate(32.5, FULL, A100_80, tmp_path).fits is True


def test_mistral_small_full_does_not_fit_40gb_and_7b_models_do(tmp_path):
    assert _estimate(23.57, FULL, A100_40, tmp_path).fits is False
    assert _estimate(23.57, GPTQ4, A100_40, tmp_path).fits is True
    assert _estimate(6.74, FULL, A100_40, tmp_path).fits is True


def test_4bit_weights_are_about_a_quarter_of_16bit(tmp_path):
    full = _estimate(6.74, FULL, A100_80, tmp_path).weights_gb
    quantized = _estimate(6.74, GPTQ4, A100_80, tmp_path).weights_gb
    assert 0.25 < quantized / full < 0.35


def test_architecture_from_a_prepared_model_sets_the_kv_cache(tmp_path):
    prepared = tmp_path / "prepared"
    prepared.mkdir()
    (prepared / "config.json").write_text(json.dumps({
        "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
        "num_attention_heads": 9, "num_key_value_heads": 3, "head_dim": 64,
        "vocab_size": 49152, "tie_word_embeddings": True, "torch_dtype": "float32"}))
    (prepared / "provenance.json").write_text(json.dumps({"parameter_count": 134515008,
                                                          "dtype": "float32"}))
    result = feasibility.estimate("smol", "full", "cpu", {"gguf_package": {}},
                                  {"method": "none", "dtype": "auto"},
                                  {"device": "cpu", "gpu_memory_gb": None, "mem_gb": 8},
                                  SETTINGS, prepared)
    # 2 (K, V) x 30 layers x 3 KV heads x 64 x 2148 tokens x 2 bytes
    assert result.kv_cache_gb == round(2 * 30 * 3 * 64 * 2148 * 2 / 1e9, 3)
    assert result.weights_gb == round(134515008 * 4 / 1e9, 3)
    assert result.parameter_source == "prepared model" and result.fits is True
    assert result.device_memory_gb == 8


def test_unknown_size_is_run_not_refused(tmp_path):
    result = feasibility.estimate("m", "v", "s", {"hf": "x/y"}, FULL, A100_40, SETTINGS,
                                  tmp_path / "nothing")
    assert result.fits is None and "params_b" in result.note


def test_measured_peak_memory_is_put_beside_the_estimate(tmp_path):
    """The energy table's peak (GPU allocator on CUDA, process RSS on CPU) joins the estimate of
    the same (model, variant, setup); tuples the energy stage did not run stay empty."""
    energy = tmp_path / "energy.csv"
    energy.write_text("model,variant,setup,peak_rss_mb,peak_gpu_allocated_mb\n"
                      "m,v,gpu,3000.0,20000.0\n"
                      "m,v,cpu,1500.0,\n")
    gpu = feasibility.estimate("m", "v", "gpu", {"hf": "x/y", "params_b": 7}, FULL, A100_40,
                               SETTINGS, tmp_path / "none")
    cpu = feasibility.estimate("m", "v", "cpu", {"hf": "x/y", "params_b": 7}, FULL,
                               {"device": "cpu", "gpu_memory_gb": None, "mem_gb": 64},
                               SETTINGS, tmp_path / "none")
    other = feasibility.estimate("m", "w", "gpu", {"hf": "x/y", "params_b": 7}, FULL, A100_40,
                                 SETTINGS, tmp_path / "none")
    out = tmp_path / "feasibility.csv"
    feasibility.write_table([gpu, cpu, other], out, energy)
    import csv

    rows = list(csv.DictReader(open(out, newline="")))
    assert rows[0]["measured_peak_gb"] == str(round(20000 * 2**20 / 1e9, 3))
    assert rows[0]["measured_peak_kind"] == "cuda_allocator_peak"
    assert rows[1]["measured_peak_gb"] == str(round(1500 * 2**20 / 1e9, 3))
    assert rows[1]["measured_peak_kind"] == "process_peak_rss"
    assert rows[2]["measured_peak_gb"] == "" and rows[2]["measured_peak_kind"] == ""
    # before the energy stage has run: the estimates alone
    feasibility.write_table([gpu], out, tmp_path / "missing.csv")
    assert list(csv.DictReader(open(out, newline="")))[0]["measured_peak_gb"] == ""
