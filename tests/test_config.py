"""Config validation: schema defaults, and malformed studies rejected with the key named."""

from __future__ import annotations

import copy
import json

import pytest

from conftest import REPO, SCHEMA, demo_config
from llm_footprint.schema import ConfigError
from llm_footprint.study import load_study


def test_demo_config_is_valid_and_gets_defaults():
    config = demo_config()
    study = load_study(config, SCHEMA)
    assert study.models == ["smollm2-135m"]
    assert study.default_setup == "laptop-cpu"
    gptq = config["variants"]["gptq-4bit"]
    assert gptq["sym"] is True and gptq["desc_act"] is False and gptq["kernel"] == "auto"
    assert gptq["calibration"]["min_chars"] == 400
    # gptq defaults do not leak into method-none variants
    assert "bits" not in config["variants"]["full"]
    assert config["study"]["output_root"] == "results"


def _set(config, dotted, value):
    *parents, last = dotted.split(".")
    node = config
    for part in parents:
        node = node[part]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value


_DELETE = object()


def _local_model(tmp_path, hidden=576, inner=1536):
    folder = tmp_path / "local-model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(
        {"model_type": "llama", "hidden_size": hidden, "intermediate_size": inner,
         "num_attention_heads": 9, "head_dim": 64}))
    (folder / "model.safetensors").write_bytes(b"")  # only its presence is checked at load
    return folder


MALFORMED = [
    # (what is changed, value, key the error must name, words the message must contain)
    ("stduy", {"name": "x"}, "stduy", "did you mean 'study'"),
    ("study.name", _DELETE, "study.name", "required"),
    ("study.baseline_variant", "fp16", "study.baseline_variant", "not a variant"),
    ("study.baseline_variant", "gptq-4bit", "study.baseline_variant", "method none"),
    ("study.default_setup", "a100", "study.default_setup", "not a setup"),
    ("models.smollm2-135m", {}, "models.smollm2-135m", "exactly one source"),
    ("models.smollm2-135m.hf", "HuggingFaceTB/SmolLM2-135M-Instruct", "models.smollm2-135m",
     "exactly one source"),
    ("models.Smol LM", {"hf": "a/b"}, "models.Smol LM", "not a valid id"),
    ("models.smollm2-135m.gguf_package.package", "not_a_package_xyz",
     "models.smollm2-135m.gguf_package.package", "not installed"),
    ("models.smollm2-135m.gguf_package.file", "missing.gguf",
     "models.smollm2-135m.gguf_package.file", "is not in"),
    ("models.smollm2-135m.teacher", "gpt2", "models.smollm2-135m.teacher", "another model"),
    ("models.smollm2-135m.revision", "main", "models.smollm2-135m.revision", "hub models"),
    ("variants.gptq-4bit.bits", 5, "variants.gptq-4bit.bits", "not one of"),
    ("variants.gptq-4bit.group_size", 100, "variants.gptq-4bit.group_size", "not one of"),
    ("variants.gptq-4bit.method", "quip", "variants.gptq-4bit.method", "not one of"),
    ("variants.full.bits", 4, "variants.full.bits", "unknown key for method 'none'"),
    ("variants.gptq-4bit.calibration.path", None, "variants.gptq-4bit.calibration.path",
     "required"),
    ("variants.gptq-4bit.calibration.path", "no/such.txt", "variants.gptq-4bit.calibration.path",
     "does not exist"),
    ("variants.gptq-4bit.calibration.n_samples", 0, "variants.gptq-4bit.calibration.n_samples",
     "minimum"),
    ("variants.gptq-4bit.calibraton", {}, "variants.gptq-4bit.calibraton", "did you mean"),
    ("setups.laptop-cpu.device", "tpu", "setups.laptop-cpu.device", "not one of"),
    ("setups.laptop-cpu.cpus", "two", "setups.laptop-cpu.cpus", "expected integer"),
    ("setups.a100", {"device": "cuda"}, "setups.a100.gpu_memory_gb", "required for cuda"),
    ("setups.laptop-cpu.gpu_memory_gb", 40, "setups.laptop-cpu.gpu_memory_gb", "only applies"),
    ("variants", {}, "variants", "must not be empty"),
]


@pytest.mark.parametrize("dotted,value,key,words", MALFORMED,
                         ids=[f"{m[0]}={m[1]!r}"[:60] for m in MALFORMED])
def test_malformed_config_names_the_key(dotted, value, key, words):
    config = copy.deepcopy(demo_config())
    _set(config, dotted, value)
    with pytest.raises(ConfigError) as caught:
        load_study(config, SCHEMA)
    assert caught.value.key == key, str(caught.value)
    assert words in str(caught.value)
    assert f"'{key}'" in str(caught.value)


def test_local_model_path_must_be_a_checkpoint(tmp_path):
    config = demo_config()
    config["models"]["smollm2-135m"] = {"path": str(tmp_path)}
    with pytest.raises(ConfigError) as caught:
        load_study(config, SCHEMA)
    assert caught.value.key == "models.smollm2-135m.path"


def test_group_size_that_does_not_divide_the_model_fails_at_load(tmp_path):
    config = demo_config()
    config["models"]["smollm2-135m"] = {"path": str(_local_model(tmp_path))}
    config["variants"]["gptq-4bit"]["group_size"] = 128
    with pytest.raises(ConfigError) as caught:
        load_study(config, SCHEMA)
    assert caught.value.key == "variants.gptq-4bit.group_size"
    assert "hidden_size=576" in str(caught.value) and "64" in str(caught.value)


def test_relative_paths_resolve_against_search_dirs(tmp_path):
    model = _local_model(tmp_path)
    config = demo_config()
    config["models"]["smollm2-135m"] = {"path": model.name}
    load_study(config, SCHEMA, search_dirs=[tmp_path / "elsewhere", tmp_path, REPO])
    assert config["models"]["smollm2-135m"]["path"] == str(model.resolve())
