"""Model facts read from config.json and safetensors headers."""

import struct
import json

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
