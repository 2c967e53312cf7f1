"""Every checkpoint the workflow writes opens in a user's own code.

Each checkpoint is opened in a fresh Python process with the loader a user would reach for
(transformers, GPTQModel, ``llm_footprint.load_checkpoint`` for head-pruned ones, transformers
for their dense export) and must reproduce the project's token perplexity within 0.1 %: the
project's own loader here for checkpoints built by these tests, the perplexity recorded in
results/quality/ for every checkpoint of the demo study run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_method_head_prune import SMALL_CALIBRATION, _file_shapes
from test_method_head_prune import _variant as head_prune_variant

import llm_footprint
from conftest import AVX2_ENV, REPO, SCHEMA, demo_config, tiny_gpt2
from llm_footprint import compression
from llm_footprint.dense_export import NotExportable
from llm_footprint.open_checkpoint import NotACheckpoint
from llm_footprint.study import load_study

TEXT_FILE = REPO / "data" / "demo" / "quality" / "wikitext_style.txt"
TEXT_CHARS = 1000
# the tiny GPT-2 has 128 positions
CONTEXT_TOKENS = 128
RELATIVE_TOLERANCE = 1e-3

# what a user writes: open the folder with the method's standard loader, then score it with
# the project's perplexity function
USER_CODE = r"""
import json, sys
from pathlib import Path
import torch
args = json.loads(sys.argv[1])
torch.set_num_threads(2)
dtype = getattr(torch, args["dtype"]) if args["dtype"] else None
if args["how"] == "gptqmodel":
    from gptqmodel import GPTQModel
    from transformers import AutoTokenizer
    model = GPTQModel.load(args["folder"], device="cpu", dtype=dtype)
    tokenizer = AutoTokenizer.from_pretrained(args["folder"])
elif args["how"] == "load_checkpoint":
    import llm_footprint
    model, tokenizer = llm_footprint.load_checkpoint(args["folder"], dtype=dtype)
else:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    model = AutoModelForCausalLM.from_pretrained(args["folder"], dtype=dtype, device_map="cpu")
    tokenizer = AutoTokenizer.from_pretrained(args["folder"])
model.eval()
from llm_footprint.quality.perplexity import token_perplexity
text = Path(args["text"]).read_text(encoding="utf-8").replace("\r\n", "\n")[: args["chars"]]
result = token_perplexity(model, tokenizer, text, args["context_tokens"], args["stride"],
                          args["max_windows"], args["batch_size"])
result["dtype"] = str(getattr(model, "dtype", "")).removeprefix("torch.")
print(json.dumps(result))
"""


def user_perplexity(how: str, folder: Path, dtype: str | None, text: Path = TEXT_FILE,
                    chars: int | None = TEXT_CHARS, context_tokens: int = CONTEXT_TOKENS,
                    stride: int | None = None, max_windows: int | None = None,
                    batch_size: int = 1, env: dict | None = None) -> dict:
    """Token perplexity of ``folder`` opened by ``how`` in a fresh process."""
    args = {"how": how, "folder": str(folder), "dtype": dtype, "text": str(text),
            "chars": chars, "context_tokens": context_tokens, "stride": stride,
            "max_windows": max_windows, "batch_size": batch_size}
    result = subprocess.run([sys.executable, "-c", USER_CODE, json.dumps(args)],
                            capture_output=True, text=True, timeout=600,
                            env={**os.environ, **(env or {})})
    if result.returncode != 0:
        raise AssertionError(f"{how} could not open {folder}:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def project_perplexity(checkpoint: Path) -> tuple[float, str]:
    """Token perplexity through the project's loader, as the quality stage computes it."""
    from llm_footprint.loading import load_for_inference
    from llm_footprint.quality.perplexity import token_perplexity

    loaded = load_for_inference(checkpoint, threads=2)
    text = TEXT_FILE.read_text(encoding="utf-8")[:TEXT_CHARS]
    result = token_perplexity(loaded.model, loaded.tokenizer, text, CONTEXT_TOKENS)
    return result["token_perplexity"], loaded.dtype


def study_variant(spec: dict) -> dict:
    """``spec`` with the schema's defaults filled in, through the study loader."""
    config = demo_config()
    config["variants"]["v"] = spec
    load_study(config, SCHEMA)
    return config["variants"]["v"]


def tiny_llama(folder: Path, demo_model_dir: Path) -> Path:
    """A random two-layer Llama (grouped-query attention) with the demo tokenizer, as a
    prepared model folder: cheap to quantize and prune."""
    import shutil

    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(
        vocab_size=49152, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
        tie_word_embeddings=True)).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(demo_model_dir / name, folder / name)
    (folder / "provenance.json").write_text(json.dumps(
        {"size_on_disk_mb": 1.0, "source": {"path": "tiny"}, "dtype": "float32"}))
    return folder


def _compress(model_id: str, variant: dict, source: Path, out: Path) -> Path:
    compression.compress(model_id, out.name, variant, source, out, threads=2)
    return out


def _export_cli(checkpoint: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "llm_footprint.export_dense", str(checkpoint),
                           str(out)], capture_output=True, text=True, timeout=300)


# (checkpoint the project loads, folder the user opens); module-scoped so `-k` builds only
# what the selected cases need


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    import torch

    torch.set_num_threads(2)
    return tmp_path_factory.mktemp("open")


@pytest.fixture(scope="module")
def demo_full(demo_model_dir, work):
    out = _compress("smollm2-135m", demo_config()["variants"]["full"], demo_model_dir,
                    work / "full")
    manifest = json.loads((out / "manifest.json").read_text())
    # method none's checkpoint is a manifest naming the prepared model folder
    return out, (out / manifest["weights_dir"]).resolve()


@pytest.fixture(scope="module")
def demo_pruned(demo_model_dir, work):
    out = _compress("smollm2-135m", head_prune_variant(threshold=0.8), demo_model_dir,
                    work / "hp-08")
    assert json.loads((out / "compress_summary.json").read_text())["query_heads_removed"] > 0
    return out, out


@pytest.fixture(scope="module")
def demo_dense(demo_pruned, work):
    pruned, _ = demo_pruned
    return pruned, llm_footprint.export_dense(pruned, work / "hp-08-dense")


@pytest.fixture(scope="module")
def gpt2_pruned(demo_model_dir, work):
    source = tiny_gpt2(work / "tiny-gpt2", demo_model_dir, n_embd=128)
    variant = head_prune_variant(threshold=0.01, min_heads_per_layer=2,
                                 calibration={**SMALL_CALIBRATION, "n_samples": 2})
    return source, _compress("tiny", variant, source, work / "gpt2-hp")


@pytest.fixture(scope="module")
def gpt2_dense(gpt2_pruned, work):
    _, pruned = gpt2_pruned
    out = work / "gpt2-hp-dense"
    result = _export_cli(pruned, out)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == str(out)
    return pruned, out


@pytest.fixture(scope="module")
def gpt2_pruned_nf4(gpt2_pruned, work):
    _, pruned = gpt2_pruned
    out = _compress("tiny", study_variant({"method": "bnb", "bits": 4, "quant_type": "nf4"}),
                    pruned, work / "gpt2-hp-nf4")
    return out, out


@pytest.fixture(scope="module")
def llama(demo_model_dir, work) -> Path:
    return tiny_llama(work / "tiny-llama", demo_model_dir)


@pytest.fixture(scope="module")
def llama_nf4(llama, work):
    out = _compress("tiny", study_variant({"method": "bnb", "bits": 4, "quant_type": "nf4"}),
                    llama, work / "llama-nf4")
    return out, out


@pytest.fixture(scope="module")
def llama_sparsegpt(llama, work):
    calibration = {**SMALL_CALIBRATION, "n_samples": 2, "max_tokens": 32}
    out = _compress("tiny", study_variant({"method": "sparsegpt", "structure": "2:4",
                                           "calibration": calibration}),
                    llama, work / "llama-sparsegpt")
    return out, out


@pytest.fixture(scope="module")
def llama_gptq(llama, work):
    out = _compress("tiny", study_variant({"method": "gptq", "bits": 4, "group_size": 32,
                                           "calibration": dict(SMALL_CALIBRATION)}),
                    llama, work / "llama-gptq")
    return out, out


CASES = [  # (id, fixture, how the user opens it)
    ("none", "demo_full", "transformers"),
    ("head_prune", "demo_pruned", "load_checkpoint"),
    ("head_prune-dense-export", "demo_dense", "transformers"),
    ("gpt2-head_prune-dense-export", "gpt2_dense", "transformers"),
    ("gpt2-head_prune+bnb-nf4", "gpt2_pruned_nf4", "load_checkpoint"),
    ("bnb-nf4", "llama_nf4", "transformers"),
    ("sparsegpt-2of4", "llama_sparsegpt", "transformers"),
    ("gptq-4bit", "llama_gptq", "gptqmodel"),
]


@pytest.mark.parametrize("fixture,how", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_checkpoint_opens_in_user_code_with_the_same_perplexity(request, fixture, how):
    checkpoint, opened = request.getfixturevalue(fixture)
    want, dtype = project_perplexity(checkpoint)
    # load_checkpoint is called as a user would, without a dtype: the checkpoint's own
    got = user_perplexity(how, opened, None if how == "load_checkpoint" else dtype)
    print(f"\n{request.node.callspec.id}: project {want:.6f}, user code ({how}) "
          f"{got['token_perplexity']:.6f} over {got['tokens_scored']} tokens in {dtype}")
    assert got["token_perplexity"] == pytest.approx(want, rel=RELATIVE_TOLERANCE)
    if how == "load_checkpoint":
        assert got["dtype"] == dtype


def test_dense_export_has_the_original_shapes_and_zero_pruned_heads(demo_dense, demo_model_dir):
    from safetensors import safe_open

    pruned, dense = demo_dense
    assert _file_shapes(dense) == _file_shapes(demo_model_dir)
    note = json.loads((dense / "dense_export.json").read_text())
    assert note["export_of"] == str(pruned.resolve()) and note["variant"] == "hp-08"
    assert note["zeroed_heads"] and not (dense / "manifest.json").exists()
    with safe_open(str(dense / "model.safetensors"), "pt") as handle:
        for record in note["zeroed_heads"]:
            prefix = f"model.layers.{record['layer']}.self_attn"
            q = handle.get_tensor(f"{prefix}.q_proj.weight").reshape(9, 64, 576)
            o = handle.get_tensor(f"{prefix}.o_proj.weight").reshape(576, 9, 64)
            k = handle.get_tensor(f"{prefix}.k_proj.weight").reshape(3, 64, 576)
            for head in range(9):
                zero = head in record["query"]
                assert bool((q[head] == 0).all()) == zero and bool((o[:, head] == 0).all()) == zero
            for head in range(3):
                assert bool((k[head] == 0).all()) == (head in record["kv"])


def test_export_refuses_quantized_and_unpruned_checkpoints(gpt2_pruned, gpt2_pruned_nf4,
                                                           demo_full, tmp_path):
    _, pruned = gpt2_pruned
    quantized, _ = gpt2_pruned_nf4
    with pytest.raises(NotExportable, match="load_checkpoint") as caught:
        llm_footprint.export_dense(quantized, tmp_path / "out")
    assert "dequantize" in str(caught.value) and str(pruned) in str(caught.value)
    with pytest.raises(NotExportable, match="method none .*from_pretrained"):
        llm_footprint.export_dense(demo_full[0], tmp_path / "out")
    assert not (tmp_path / "out").exists()
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    with pytest.raises(FileExistsError, match="taken"):
        llm_footprint.export_dense(pruned, tmp_path / "taken")
    result = _export_cli(quantized, tmp_path / "cli")
    assert result.returncode == 2 and "load_checkpoint" in result.stderr


def test_load_checkpoint_names_the_file_when_the_folder_is_no_checkpoint(llama, tmp_path):
    with pytest.raises(NotACheckpoint, match=r"manifest\.json: missing.*from_pretrained"):
        llm_footprint.load_checkpoint(llama)
    with pytest.raises(FileNotFoundError, match="no such checkpoint folder"):
        llm_footprint.load_checkpoint(tmp_path / "absent")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text("{not json")
    with pytest.raises(NotACheckpoint,
                       match=re.escape(f"{broken}/manifest.json: not valid JSON")):
        llm_footprint.load_checkpoint(broken)
    (broken / "manifest.json").write_text(json.dumps({"method": "magic", "weights_dir": "."}))
    with pytest.raises(NotACheckpoint, match="unknown compression method 'magic'"):
        llm_footprint.load_checkpoint(broken)
    (broken / "manifest.json").write_text(json.dumps({"method": "none",
                                                      "weights_dir": "../moved"}))
    with pytest.raises(NotACheckpoint,
                       match=re.escape(f"{tmp_path}/moved/config.json: missing")):
        llm_footprint.load_checkpoint(broken)
    with pytest.raises(ValueError, match="dtype 'int8'"):
        llm_footprint.load_checkpoint(llama, dtype="int8")


def _user_loader(checkpoint: Path, manifest: dict) -> tuple[str, Path]:
    """The loader a user would take for a checkpoint, and the folder it opens."""
    if (checkpoint / "quantize_config.json").is_file():  # the GPTQ format (gptq, rtn)
        return "gptqmodel", checkpoint
    if "kept_heads" in manifest:
        return "load_checkpoint", checkpoint
    return "transformers", (checkpoint / manifest["weights_dir"]).resolve()


def check_run(workdir: Path, export_dir: Path) -> list[tuple[str, str, float, float]]:
    """Open every checkpoint of the run in ``workdir`` in user code (and each head-pruned one's
    dense export, written under ``export_dir``) and compare with the token perplexity its
    quality JSON records; (variant, loader, recorded, user code) of each."""
    checked = []
    for quality_file in sorted((workdir / "results" / "quality").glob("*/*.json")):
        model_id, variant = quality_file.parent.name, quality_file.stem
        quality = json.loads(quality_file.read_text())
        recorded = quality["perplexity"]
        settings = quality["provenance"]["config"]["quality"]["perplexity"]
        text = Path(recorded["text_source"])
        text = text if text.is_absolute() else workdir / text
        checkpoint = workdir / "results" / "checkpoints" / model_id / variant
        manifest = json.loads((checkpoint / "manifest.json").read_text())
        opened = [_user_loader(checkpoint, manifest)]
        if manifest["method"] == "head_prune":
            opened.append(("transformers", llm_footprint.export_dense(
                checkpoint, export_dir / model_id / variant)))
        for how, folder in opened:
            got = user_perplexity(
                how, folder, None if how == "load_checkpoint" else quality["dtype"], text,
                chars=None, context_tokens=recorded["context_tokens"], stride=recorded["stride"],
                max_windows=settings["max_windows"], batch_size=settings["batch_size"],
                env=AVX2_ENV)
            print(f"\n{model_id}/{variant} ({how}): recorded {recorded['token_perplexity']:.6f}, "
                  f"user code {got['token_perplexity']:.6f}")
            assert got["tokens_scored"] == recorded["tokens_scored"], (variant, how)
            assert got["dtype"] == quality["dtype"] or how == "gptqmodel", (variant, how)
            assert got["token_perplexity"] == pytest.approx(recorded["token_perplexity"],
                                                            rel=RELATIVE_TOLERANCE), (variant, how)
            checked.append((variant, how, recorded["token_perplexity"], got["token_perplexity"]))
    return checked


@pytest.mark.e2e
def test_every_checkpoint_of_the_demo_run_reproduces_its_recorded_perplexity(demo_study_run,
                                                                           tmp_path):
    """The quality stage ran as on an AVX2-only CPU; so do the fresh processes here, on the
    whole recorded text with the recorded context, stride and batching."""
    workdir, _ = demo_study_run
    variants = {variant for variant, *_ in check_run(workdir, tmp_path)}
    assert variants == {p.name for p in (workdir / "results/checkpoints").glob("*/*")}
    assert {"full", "gptq-4bit", "bnb-nf4", "sparsegpt-2of4", "ah-80"} <= variants
