"""Shared fixtures: the repository, the demo model, and running Snakemake in a scratch folder."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

# The tests never reach the Hugging Face hub: fail fast instead of retrying it for minutes.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
SHARED_DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO / "src"))


def demo_config() -> dict:
    with open(REPO / "config.yaml", encoding="utf-8") as handle:
        # a JSON round trip undoes YAML aliases, so a test can change one variant alone
        return json.loads(json.dumps(yaml.safe_load(handle)))


def write_config(folder: Path, config: dict, name: str = "config.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def snakemake(workdir: Path, configfile: Path, *args: str, check: bool = True,
              timeout: int = 1800) -> subprocess.CompletedProcess:
    """Run the workflow's Snakefile with ``workdir`` as its working directory."""
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
               "--directory", str(workdir), "--configfile", str(configfile), "--cores", "2",
               *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                            cwd=workdir)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({result.returncode}):\n"
                             f"{result.stdout[-4000:]}\n{result.stderr[-6000:]}")
    return result


def small_demo_config(output_root: str = "results") -> dict:
    """The demo study cut down for tests: the same stages and code paths, less data."""
    config = copy.deepcopy(demo_config())
    config["study"]["output_root"] = output_root
    for variant in config["variants"].values():
        if variant["method"] == "gptq":
            variant["calibration"] = {**variant["calibration"], "n_samples": 16, "max_tokens": 128}
    limits = {"wikitext": None, "mmlu": 20, "ifeval": 3}
    for task in config["quality"]["tasks"]:
        task["limit"] = limits[task["name"]]
        if task["name"] == "ifeval":
            task["max_gen_toks"] = 32
    # 20 MMLU questions can land on the 0.8 x chance net, where Pc is undefined
    config["tradeoff"]["metrics"] = [{"task": "perplexity", "metric": "token_perplexity"}]
    config["energy"]["schedule"].update(duration_s=20, mean_interval_s=5)
    config["energy"]["generation"]["max_new_tokens"] = 16
    config["energy"]["tracker"]["measure_power_secs"] = 1
    return config


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real dataset samples not present at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def demo_model_dir(tmp_path_factory) -> Path:
    """The demo model prepared from its GGUF package once per test session.

    LLM_FOOTPRINT_TEST_MODEL_DIR names a transformers model folder to prepare instead, through
    the `path:` source, on machines without the demo package (tests/gpu/run.sh points it at a
    model built from a config).
    """
    from llm_footprint.prepare import prepare_model

    out = tmp_path_factory.mktemp("models") / "smollm2-135m"
    given = os.environ.get("LLM_FOOTPRINT_TEST_MODEL_DIR")
    if given:
        if not (Path(given) / "config.json").is_file():
            raise pytest.UsageError(f"LLM_FOOTPRINT_TEST_MODEL_DIR={given} holds no config.json")
        prepare_model("smollm2-135m", {"path": str(Path(given).resolve())}, out)
        return out
    spec = demo_config()["models"]["smollm2-135m"]
    prepare_model("smollm2-135m", spec, out)
    return out
