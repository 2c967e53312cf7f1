"""Compression methods behind one interface: the registry, the schema blocks, descriptions."""

from __future__ import annotations

import json
import struct

import pytest
import yaml

from conftest import SCHEMA, demo_config
from llm_footprint import compression
from llm_footprint.compression import checkpoint, gptq
from llm_footprint.compression.base import Method
from llm_footprint.schema import ConfigError


def _schema() -> dict:
    with open(SCHEMA, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_every_method_has_its_schema_block_and_nothing_else_does():
    schema = _schema()
    variant = schema["properties"]["variants"]["additionalProperties"]
    blocks = {ref["$ref"].rsplit("/", 1)[1] for ref in variant["allOf"]}
    # chain is not a method of its own: it orders the others (compression.chains)
    assert blocks == {f"method_{name}" for name in (*compression.METHODS, "chain")}
    assert set(variant["properties"]["method"]["enum"]) == {*compression.METHODS, "chain"}
    for name in compression.METHODS:
        block = schema["$defs"][f"method_{name}"]
        assert block["if"] == {"properties": {"method": {"const": name}}}


def test_methods_declare_what_the_plan_needs():
    for name, method in compression.METHODS.items():
        assert isinstance(method, Method) and method.name == name
        assert isinstance(method.can_follow, tuple)
        assert method.expected_minutes(7.0) > 0
    assert compression.method("gptq").needs_calibration and compression.method("gptq").heavy
    assert not compression.method("none").heavy and not compression.method("none").quantized
    with pytest.raises(ValueError, match="methods: none, gptq"):
        compression.method("quip")


def test_unknown_method_is_refused_naming_the_key():
    config = demo_config()
    config["variants"]["gptq-4bit"]["method"] = "quip"
    with pytest.raises(ConfigError) as caught:
        compression.check_config(config)
    assert caught.value.key == "variants.gptq-4bit.method"


def test_gptq_checks_its_calibration():
    with pytest.raises(ConfigError) as caught:
        compression.method("gptq").check("variants.q", {"calibration": {"source": "hf_dataset"}})
    assert caught.value.key == "variants.q.calibration.dataset"


def test_gptq_bits_per_weight_count_scales_and_zeros():
    assert gptq.group_bits(4, 128, 4096) == 4 + 20 / 128
    assert gptq.group_bits(8, -1, 1000) == 8 + 24 / 1000


def _write_safetensors(path, tensors):
    header = {name: {"dtype": dtype, "shape": shape, "data_offsets": [0, 0]}
              for name, (dtype, shape) in tensors.items()}
    blob = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob)


def test_describe_a_reference_checkpoint(tmp_path):
    prepared = tmp_path / "models" / "m"
    prepared.mkdir(parents=True)
    _write_safetensors(prepared / "model.safetensors", {"w": ("F32", [4, 4])})
    out = tmp_path / "checkpoints" / "m" / "full"
    out.mkdir(parents=True)
    (out / checkpoint.MANIFEST_FILE).write_text(json.dumps(
        {"method": "none", "weights_dir": "../../../models/m", "dtype": "auto"}))
    described = compression.describe(out)
    assert described.bits_per_weight == 32.0 and described.sparsity == 0.0
    assert described.size_on_disk_mb == pytest.approx((prepared / "model.safetensors").stat().st_size / 1e6, abs=1e-3)
    assert set(described.as_record()) == {"size_on_disk_mb", "bits_per_weight", "sparsity"}
