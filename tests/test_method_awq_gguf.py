"""Methods awq and gguf (GPTQModel): compress, reload (GPTQModel in a fresh process and the
project loader, same logits), sizes and bits per weight, keys.

AWQ runs on the demo model cut to its first decoder block (real weights): its clipping
search takes about a minute per block on 2 CPU cores, the whole demo model half an hour.
"""

from __future__ import annotations

import copy
import json
import math
import os
import shutil
import subprocess
import sys

import pytest

from conftest import REPO, SCHEMA, demo_config
from llm_footprint import compression, compute_dtype, feasibility
from llm_footprint.compression import awq, gguf, gptq
from llm_footprint.loading import load_for_inference
from llm_footprint.schema import ConfigError
from llm_footprint.study import load_study

# the demo's calibration text, shortened
CALIBRATION = {"source": "text_file", "n_samples": 8, "max_tokens": 64, "min_chars": 400,
               "seed": 0, "split": "train", "text_field": "text",
               "path": str(REPO / "data/demo/calibration/general_english.txt"), "dataset": None,
               "dataset_config": None, "data_files": None}
PROMPT = "The capital of France is Paris. The capital of Italy is"
# reloads a checkpoint with GPTQModel alone, as a user of the folder would, and saves logits
RELOAD = """
import json, sys
import torch
from gptqmodel import GPTQModel
from transformers import AutoTokenizer
torch.set_num_threads(2)
folder, dtype, prompt, out = sys.argv[1:]
wrapper = GPTQModel.load(folder, device="cpu", dtype=getattr(torch, dtype), backend="auto")
# as loaded: TorchFusedAwqLinear adds helper modules of its own at the first forward
kernels = sorted({type(m).__name__ for m in wrapper.model.modules()
                  if type(m).__module__.startswith("gptqmodel.nn_modules")})
for module in wrapper.model.modules():
    if hasattr(module, "gguf_tensor_qtype"):
        module.autotune_enabled = False  # as the project loader does (compression.gguf)
ids = AutoTokenizer.from_pretrained(folder)(prompt, return_tensors="pt")["input_ids"]
with torch.inference_mode():
    logits = wrapper.model(ids).logits
torch.save(logits, out)
print(json.dumps(kernels))
"""


def _first_block(demo_model_dir, folder):
    """The demo model cut to its first decoder block, as a prepared model folder."""
    from safetensors.torch import load_file, save_file

    folder.mkdir()
    config = json.loads((demo_model_dir / "config.json").read_text())
    config["num_hidden_layers"] = 1
    (folder / "config.json").write_text(json.dumps(config))
    tensors = {name: tensor
               for name, tensor in load_file(demo_model_dir / "model.safetensors").items()
               if not name.startswith("model.layers.") or name.split(".")[2] == "0"}
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    for name in ("tokenizer.json", "tokenizer_config.json", "generation_config.json"):
        shutil.copy(demo_model_dir / name, folder / name)
    provenance = json.loads((demo_model_dir / "provenance.json").read_text())
    provenance.update(parameter_count=sum(t.numel() for t in tensors.values()),
                      size_on_disk_mb=(folder / "model.safetensors").stat().st_size / 1e6)
    (folder / "provenance.json").write_text(json.dumps(provenance))
    return folder


def _awq_variant(**keys) -> dict:
    return {"method": "awq", "dtype": "auto", "bits": 4, "group_size": 64, "sym": True,
            "batch_size": 8, "kernel": "auto", "calibration": CALIBRATION, **keys}


def _gguf_variant(**keys) -> dict:
    return {"method": "gguf", "dtype": "auto", "type": "Q4_K_M", "kernel": "auto", **keys}


@pytest.fixture(scope="module")
def one_block_dir(demo_model_dir, tmp_path_factory):
    return _first_block(demo_model_dir, tmp_path_factory.mktemp("models") / "smollm2-1block")


@pytest.fixture(scope="module")
def awq_checkpoint(one_block_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("checkpoints") / "awq-4bit-g64"
    summary = compression.compress("smollm2-1block", "awq-4bit-g64", _awq_variant(),
                                   one_block_dir, out, threads=2)
    return out, summary


@pytest.fixture(scope="module")
def gguf_checkpoint(demo_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("checkpoints") / "gguf-q4km"
    summary = compression.compress("smollm2-135m", "gguf-q4km", _gguf_variant(),
                                   demo_model_dir, out, threads=2)
    return out, summary


@pytest.fixture(scope="module")
def reloaded(awq_checkpoint, gguf_checkpoint, tmp_path_factory):
    """Both checkpoints through the project loader and through GPTQModel in one fresh
    process each: (loaded model, its logits, GPTQModel's logits, GPTQModel's kernels)."""
    import torch

    results = {}
    for name, (out, _) in (("awq", awq_checkpoint), ("gguf", gguf_checkpoint)):
        loaded = load_for_inference(out, threads=2)
        ids = loaded.tokenizer(PROMPT, return_tensors="pt")["input_ids"]
        with torch.inference_mode():
            logits = loaded.model(ids).logits
        saved = tmp_path_factory.mktemp("logits") / f"{name}.pt"
        process = subprocess.run(
            [sys.executable, "-c", RELOAD, str(out), loaded.dtype, PROMPT, str(saved)],
            capture_output=True, text=True, timeout=300,
            env={**os.environ, "GPTQMODEL_CPU_WORKERS": "2"})
        assert process.returncode == 0, process.stderr[-3000:]
        kernels = json.loads(process.stdout.strip().splitlines()[-1])
        results[name] = (loaded, logits, torch.load(saved), kernels)
    return results


def test_awq_quantizes_the_demo_models_first_block(awq_checkpoint, one_block_dir):
    from safetensors import safe_open

    out, summary = awq_checkpoint
    assert summary["calibration_tokens"] == summary["calibration"]["tokens_total"] == 8 * 64
    assert summary["packing_kernels"] == ["AwqTorchLinear"]
    assert summary["quantize_dtype"] in ("bfloat16", "float16")
    assert summary["compute_dtype"] == compute_dtype.device_compute_dtype("cpu")
    with safe_open(str(out / "model.safetensors"), "pt") as handle:
        names = set(handle.keys())
        qweight = handle.get_slice("model.layers.0.mlp.down_proj.qweight")
        # eight 4-bit weights per int32 along the output dimension (GEMM layout)
        assert qweight.get_shape() == [1536, 576 // 8]
    assert {f"model.layers.0.self_attn.{p}_proj.{t}" for p in "qkvo"
            for t in ("qweight", "qzeros", "scales")} <= names
    config = json.loads((out / "config.json").read_text())["quantization_config"]
    assert (config["quant_method"], config["format"], config["group_size"]) == ("awq", "gemm", 64)
    described = compression.describe(out)
    assert described.bits_per_weight == gptq.group_bits(4, 64, 576) == 4 + 20 / 64
    assert described.size_on_disk_mb < summary["prepared_size_on_disk_mb"]


def test_gguf_q4_k_m_on_the_demo_model(gguf_checkpoint, demo_model_dir):
    out, summary = gguf_checkpoint
    assert summary["packing_kernels"] == ["GGUFTorchLinear"] and summary["calibration"] is None
    assert summary["tensor_type"] == "Q4_K" and summary["quantized_layers"] == 30 * 7
    # Q4_K stores 144 bytes per 256 weights; rows 576 wide are padded to 768
    widths = {"q": (576, 576), "k": (576, 192), "v": (576, 192), "o": (576, 576),
              "gate": (576, 1536), "up": (576, 1536), "down": (1536, 576)}
    stored = sum(math.ceil(w / 256) * 144 * rows for w, rows in widths.values())
    logical = sum(w * rows for w, rows in widths.values())
    assert summary["bits_per_weight"] == pytest.approx(8 * stored / logical, abs=1e-4)
    assert compression.describe(out).bits_per_weight == summary["bits_per_weight"]
    assert summary["nominal_bits_per_weight"] == 4.5
    assert compression.describe(out).size_on_disk_mb < summary["prepared_size_on_disk_mb"] / 2


@pytest.mark.parametrize("name", ["awq", "gguf"])
def test_checkpoint_reloads_with_equal_logits_in_gptqmodel_and_the_loader(reloaded, name):
    import torch

    loaded, logits, gptqmodel_logits, kernels = reloaded[name]
    assert loaded.details["loader"] == "gptqmodel"
    assert loaded.details["kernels"] == kernels
    assert kernels == {"awq": {"float32": ["TorchFusedAwqLinear"],
                               "bfloat16": ["TorchAtenAwqLinear"]}[loaded.dtype],
                       "gguf": ["GGUFTorchLinear"]}[name]
    assert torch.equal(logits, gptqmodel_logits)
    if name == "gguf":
        assert loaded.details["gguf_path_autotune"] is False


def test_quantized_logits_stay_close_to_the_unquantized_ones(reloaded, one_block_dir,
                                                            demo_model_dir):
    import torch
    from transformers import AutoModelForCausalLM

    for name, folder in (("awq", one_block_dir), ("gguf", demo_model_dir)):
        loaded, logits, _, _ = reloaded[name]
        full = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
        ids = loaded.tokenizer(PROMPT, return_tensors="pt")["input_ids"]
        with torch.inference_mode():
            reference = full(ids).logits
        similarity = torch.nn.functional.cosine_similarity(
            logits.float().flatten(), reference.flatten(), dim=0)
        assert similarity > 0.98, (name, float(similarity))


def test_gguf_types_match_what_gptqmodel_writes():
    from gptqmodel.nn_modules.qlinear import gguf as gptqmodel_gguf
    from gptqmodel.quantization.config import GGUFConfig

    for name, spec in gguf.TYPES.items():
        assert name == spec.alias.upper()
        assert gptqmodel_gguf._GGUF_BITS_ALIAS_TO_TENSOR_QTYPE[spec.alias] == spec.tensor_type
        info = gptqmodel_gguf._GGUF_TYPE_INFO[spec.tensor_type]
        assert (info["block_size"], info["type_size"]) == (spec.block_weights, spec.block_bytes)
        assert GGUFConfig(bits=spec.alias).runtime_bits.to_string() == spec.alias
    assert gguf.TYPES["Q8_0"].bits_per_weight() == 8.5
    assert gguf.TYPES["Q4_K_M"].bits_per_weight() == 4.5
    assert gguf.TYPES["Q4_K_M"].bits_per_weight(576) == 6.0
    assert gguf.TYPES["Q4_0"].bits_per_weight(576) == 4.5


def test_awq_quantizes_in_half_precision_where_the_dtype_is_float32():
    choice = compute_dtype.DtypeChoice("float32", "auto: compute dtype of cpu")
    dtype, reason = awq.quantize_dtype(choice)
    assert dtype == "bfloat16" and "float16 or bfloat16 only" in reason
    assert awq.quantize_dtype(compute_dtype.DtypeChoice("float16", "explicit")) == \
        ("float16", "explicit")


def test_defaults_and_estimates():
    config = copy.deepcopy(demo_config())
    # sym false stays allowed on CPU setups: the AWQ CPU kernels apply zero points
    config["variants"]["a"] = {"method": "awq", "group_size": 64, "sym": False}
    config["variants"]["g"] = {"method": "gguf"}
    load_study(config, SCHEMA)
    a, g = config["variants"]["a"], config["variants"]["g"]
    assert (a["bits"], a["batch_size"], a["kernel"], a["dtype"]) == (4, 8, "auto", "auto")
    assert a["calibration"]["n_samples"] == 64
    assert g == {"method": "gguf", "type": "Q4_K_M", "kernel": "auto", "dtype": "auto"}
    assert compression.method("awq").needs_calibration
    assert not compression.method("gguf").needs_calibration
    assert compression.method("gguf").quantized and compression.method("awq").quantized
    arch = feasibility.Architecture.from_config_json(
        {"hidden_size": 4096, "num_attention_heads": 32, "num_hidden_layers": 32,
         "vocab_size": 32000})
    estimate = {t: gguf.GGUF().weight_bytes(6.7e9, _gguf_variant(type=t), arch, "float16")
                for t in ("Q4_0", "Q4_K_M", "Q8_0")}
    assert estimate["Q4_0"] == estimate["Q4_K_M"] < estimate["Q8_0"] < 6.7e9 * 2
    assert awq.AWQ().weight_bytes(6.7e9, _awq_variant(group_size=128), arch, "float16") == \
        gptq.GPTQ().weight_bytes(6.7e9, {"bits": 4, "group_size": 128}, arch, "float16")


BAD = [
    ("gguf", {"type": "q4_k_m"}, "variants.bad.type", "not one of ['Q4_0', 'Q8_0'"),
    ("gguf", {"type": "Q3_K_M"}, "variants.bad.type", "not one of"),
    ("gguf", {"bits": 4}, "variants.bad.bits", "unknown key for method 'gguf'"),
    ("gguf", {"calibration": {}}, "variants.bad.calibration", "unknown key"),
    ("gguf", {"kernel": "awq_torch"}, "variants.bad.kernel", "not one of"),
    ("awq", {"group_size": 64, "bits": 8}, "variants.bad.bits", "not one of [4]"),
    ("awq", {}, "variants.bad.group_size", "does not divide"),
    ("awq", {"group_size": 100}, "variants.bad.group_size", "not one of"),
    ("awq", {"group_size": 64, "kernel": "gptq_marlin"}, "variants.bad.kernel", "not one of"),
    ("awq", {"group_size": 64, "type": "Q4_0"}, "variants.bad.type", "unknown key"),
    ("awq", {"group_size": 64, "sym": "yes"}, "variants.bad.sym", "expected boolean"),
    ("awq", {"group_size": 64, "calibration": {"source": "text_file"}},
     "variants.bad.calibration.path", "required"),
]


@pytest.mark.parametrize("method,keys,key,words", BAD,
                         ids=[f"{b[0]}-{b[1]}" for b in BAD])
def test_bad_keys_are_refused_naming_the_key(method, keys, key, words):
    config = copy.deepcopy(demo_config())
    config["variants"]["bad"] = {"method": method, **keys}
    with pytest.raises(ConfigError) as caught:
        load_study(config, SCHEMA)
    assert caught.value.key == key, str(caught.value)
    assert words in str(caught.value)


def test_gguf_check_lists_the_accepted_types():
    with pytest.raises(ConfigError) as caught:
        compression.method("gguf").check("variants.x", {"type": "Q3_K"})
    assert caught.value.key == "variants.x.type"
    assert "Q4_0, Q8_0, Q4_K, Q4_K_S, Q4_K_M" in str(caught.value)


def _mean_kl_to(reference_log_probs, folder, text: str) -> float:
    """Mean KL(reference || quantized) of the next-token distributions over ``text``."""
    import torch

    loaded = load_for_inference(folder, threads=2)
    ids = loaded.tokenizer(text, return_tensors="pt")["input_ids"][:, :256]
    with torch.inference_mode():
        log_q = torch.log_softmax(loaded.model(ids).logits.float(), dim=-1)
    log_p = reference_log_probs(ids)
    return float((log_p.exp() * (log_p - log_q)).sum(dim=-1).mean())


def test_awq_beats_round_to_nearest_at_equal_settings(awq_checkpoint, one_block_dir, tmp_path):
    """The fidelity ladder's AWQ rung: on the demo model's first block (a full-model AWQ takes
    about 30 min on 2 cores), AWQ's next-token distributions stay closer to the unquantized
    block's than round-to-nearest's at the same bits, group size and sym (same text, same
    loader)."""
    import torch
    from transformers import AutoModelForCausalLM

    out, summary = awq_checkpoint
    rtn_out = tmp_path / "rtn-4bit-g64"
    rtn = {"method": "rtn", "dtype": "auto", "bits": 4, "group_size": 64, "sym": True,
           "kernel": "auto"}
    compression.compress("smollm2-1block", "rtn-4bit-g64", rtn, one_block_dir, rtn_out,
                         threads=2)
    full = AutoModelForCausalLM.from_pretrained(one_block_dir, dtype=torch.float32).eval()

    def log_probs(ids):
        with torch.inference_mode():
            return torch.log_softmax(full(ids).logits.float(), dim=-1)

    text = (REPO / "data/demo/quality/wikitext_style.txt").read_text(encoding="utf-8")
    awq_kl, rtn_kl = _mean_kl_to(log_probs, out, text), _mean_kl_to(log_probs, rtn_out, text)
    print(f"\nmean KL to the unquantized block, 256 tokens: awq {awq_kl:.5f}, rtn {rtn_kl:.5f}")
    assert summary["bits"] == 4 and summary["group_size"] == 64
    assert 0 < awq_kl < rtn_kl
