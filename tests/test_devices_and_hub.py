"""The code paths a cluster uses that these test machines cannot: CUDA and the hub.

They run wherever a CUDA device (or, for the hub tests, the network with
LLM_FOOTPRINT_ONLINE_TESTS=1) is available, and skip with the reason elsewhere.
"""

from __future__ import annotations

import os
import time

import pytest

torch = pytest.importorskip("torch")

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
needs_hub = pytest.mark.skipif(os.environ.get("LLM_FOOTPRINT_ONLINE_TESTS") != "1",
                               reason="hub tests need the network and LLM_FOOTPRINT_ONLINE_TESTS=1")

CALIBRATION = {"source": "pydoc_topics", "n_samples": 16, "max_tokens": 128, "min_chars": 400,
               "seed": 0}


@pytest.fixture(scope="module")
def cuda_checkpoint(demo_model_dir, tmp_path_factory):
    """The demo model quantized to 4 bits on the GPU (group 64 divides its widths), for Marlin."""
    from llm_footprint.compression import compress

    out = tmp_path_factory.mktemp("cuda") / "gptq-4bit"
    variant = {"method": "gptq", "bits": 4, "group_size": 64, "desc_act": False, "sym": True,
               "damp_percent": 0.05, "batch_size": 8, "kernel": "gptq_marlin", "dtype": "auto",
               "calibration": CALIBRATION}
    compress("smollm2-135m", "gptq-4bit", variant, demo_model_dir, out, device="cuda", threads=2)
    return out


@pytest.mark.gpu
@needs_cuda
def test_gptq_on_cuda_loads_with_a_gpu_kernel_and_generates(cuda_checkpoint):
    from llm_footprint.loading import load_for_inference

    loaded = load_for_inference(cuda_checkpoint, "cuda")
    assert loaded.dtype == "float16"
    assert any("Marlin" in name for name in loaded.details["kernels"]), loaded.details
    assert all(p.device.type == "cuda" for p in loaded.model.parameters())
    inputs = loaded.tokenizer("The capital of France is", return_tensors="pt").to("cuda:0")
    output = loaded.model.generate(**inputs, max_new_tokens=8, do_sample=False)
    assert output.shape[1] > inputs["input_ids"].shape[1]


# the other GPTQModel methods on the GPU, each loaded with the kernel GPTQModel picks there
CUDA_METHODS = {
    "rtn": {"method": "rtn", "bits": 4, "group_size": 64, "sym": True, "kernel": "auto",
            "dtype": "auto"},
    "awq": {"method": "awq", "bits": 4, "group_size": 64, "sym": True, "batch_size": 8,
            "kernel": "auto", "dtype": "auto", "calibration": CALIBRATION},
    "gguf": {"method": "gguf", "type": "Q4_K_M", "kernel": "auto", "dtype": "auto"},
}


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("name", sorted(CUDA_METHODS))
def test_gptqmodel_methods_on_cuda(name, demo_model_dir, tmp_path):
    from llm_footprint.compression import compress
    from llm_footprint.loading import load_for_inference
    from llm_footprint.quality.perplexity import token_perplexity

    out = tmp_path / name
    variant = {**CUDA_METHODS[name],
               **({"calibration": {**CALIBRATION, "split": "train", "text_field": "text",
                                   "path": None, "dataset": None, "dataset_config": None,
                                   "data_files": None}} if name == "awq" else {})}
    summary = compress("smollm2-135m", name, variant, demo_model_dir, out, device="cuda",
                       threads=2)
    loaded = load_for_inference(out, "cuda")
    assert all(p.device.type == "cuda" for p in loaded.model.parameters())
    text = "The quick brown fox jumps over the lazy dog. " * 40
    ppl = token_perplexity(loaded.model, loaded.tokenizer, text, 256)["token_perplexity"]
    print(f"\n{name} on CUDA: {summary['size_on_disk_mb']:.1f} MB, quantized in "
          f"{summary['wall_time_s']:.1f} s, kernels {loaded.details['kernels']}, "
          f"token perplexity {ppl:.3f}")
    assert loaded.details["kernels"] and ppl == ppl and ppl < float("inf")


@pytest.mark.gpu
@needs_cuda
def test_full_model_in_bf16_on_cuda(demo_model_dir, tmp_path):
    from llm_footprint.compression import compress
    from llm_footprint.loading import load_for_inference

    out = tmp_path / "full"
    compress("smollm2-135m", "full", {"method": "none", "dtype": "bfloat16"}, demo_model_dir, out,
             device="cuda")
    loaded = load_for_inference(out, "cuda")
    assert next(loaded.model.parameters()).dtype == torch.bfloat16


@pytest.mark.gpu
@needs_cuda
def test_nvml_energy_counter_grows_during_generation(demo_model_dir):
    from transformers import AutoModelForCausalLM

    from llm_footprint.energy.tracker import NvmlEnergy

    nvml = NvmlEnergy()
    assert nvml.available, nvml.error
    model = AutoModelForCausalLM.from_pretrained(demo_model_dir, dtype=torch.bfloat16).to("cuda")
    before = nvml.read_mj()
    deadline = time.monotonic() + 3
    ids = torch.randint(0, 1000, (8, 256), device="cuda")
    while time.monotonic() < deadline:
        with torch.inference_mode():
            model(ids)
    torch.cuda.synchronize()
    assert nvml.read_mj() > before


@needs_hub
def test_hub_model_is_pinned_to_a_commit(tmp_path):
    from llm_footprint.prepare import prepare_model

    record = prepare_model("smollm2", {"hf": "HuggingFaceTB/SmolLM2-135M-Instruct"}, tmp_path / "m")
    assert len(record["source"]["revision"]) == 40
    assert record["parameter_count"] > 100_000_000


@needs_hub
def test_builtin_lm_eval_task_from_the_hub(demo_model_dir):
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(demo_model_dir)
    lm = HFLM(pretrained=model, tokenizer=AutoTokenizer.from_pretrained(demo_model_dir))
    result = simple_evaluate(model=lm, tasks=["wikitext"], limit=1)
    assert result["results"]["wikitext"]["word_perplexity,none"] > 1
