"""Inputs that cannot work, refused before any job or at the first step that can see them."""

from __future__ import annotations

import json

import pytest

from conftest import SCHEMA, demo_config, snakemake, write_config
from llm_footprint import prepare
from llm_footprint.schema import ConfigError
from llm_footprint.study import load_study


def _config_only_folder(folder):
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 576}))
    (folder / "tokenizer.json").write_text("{}")
    return folder


def test_model_folder_without_weights_is_refused_at_load(tmp_path):
    folder = _config_only_folder(tmp_path / "no-weights")
    config = demo_config()
    config["models"] = {"local": {"path": str(folder)}}
    with pytest.raises(ConfigError) as caught:
        load_study(config, SCHEMA)
    assert caught.value.key == "models.local.path"
    assert "no weights (*.safetensors or pytorch_model*.bin)" in str(caught.value)
    assert "config.json" in str(caught.value)


def test_model_folder_without_weights_is_not_prepared(tmp_path):
    """The prepare job refuses it too (before: "None parameters, 0.0 MB", then a
    ZeroDivisionError in compress), and leaves nothing that looks prepared."""
    folder = _config_only_folder(tmp_path / "no-weights")
    out = tmp_path / "resources" / "models" / "local"
    with pytest.raises(FileNotFoundError, match="no weights"):
        prepare.prepare_model("local", {"path": str(folder)}, out)
    assert not out.exists()
    assert list(out.parent.iterdir()) == []


def test_legacy_bin_weights_count_as_weights(tmp_path):
    folder = _config_only_folder(tmp_path / "bin")
    (folder / "pytorch_model-00001-of-00002.bin").write_bytes(b"")
    config = demo_config()
    config["models"] = {"local": {"path": str(folder)}}
    load_study(config, SCHEMA)


def test_hub_model_while_offline_fails_with_what_to_do(tmp_path, monkeypatch):
    """An `hf:` model, HF_HUB_OFFLINE=1, nothing cached: a clear error naming the model and the
    variable, not a retry loop or an error from inside the hub client."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    out = tmp_path / "resources" / "models" / "remote"
    with pytest.raises(prepare.HubOfflineError) as caught:
        prepare.prepare_model("remote", {"hf": "example-org/not-cached-model"}, out)
    message = str(caught.value)
    assert "example-org/not-cached-model" in message
    assert "HF_HUB_OFFLINE=1" in message and "path:" in message
    assert not out.exists() and list(out.parent.iterdir()) == []


def test_hub_model_while_offline_still_dry_runs(tmp_path, monkeypatch):
    """Planning needs no download: a study with an uncached hub model loads offline (the
    cluster's login node prefetches later), and its group size is checked once cached."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))
    config = demo_config()
    config["study"]["resources_root"] = str(tmp_path / "resources")
    config["models"] = {"remote": {"hf": "example-org/not-cached-model"}}
    study = load_study(config, SCHEMA)
    assert study.models == ["remote"]


@pytest.mark.parametrize("dotted,value,key", [
    ("energy.tracker.country_iso_code", "XYZ", "energy.tracker.country_iso_code"),
    ("energy.schedule.duration_s", float("inf"), "energy.schedule.duration_s"),
])
def test_dry_run_of_a_malformed_study_stops_before_any_job(tmp_path, dotted, value, key):
    """The whole workflow, not only the loader: `snakemake -n` refuses the study while it
    parses, names the key, and plans no job (before: the country failed after the
    measurement window; inf crashed in cluster.py naming nothing)."""
    config = demo_config()
    section, *middle, last = dotted.split(".")
    node = config[section]
    for part in middle:
        node = node[part]
    node[last] = value
    configfile = write_config(tmp_path, config, "malformed.yaml")
    result = snakemake(tmp_path, configfile, "--dry-run", check=False, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"config key '{key}'" in output, output[-3000:]
    assert "Job stats" not in output and "localrule" not in output
    assert not (tmp_path / "results").exists() and not (tmp_path / "resources").exists()
