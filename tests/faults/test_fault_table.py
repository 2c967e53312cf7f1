"""Malformed studies, each refused by the config loaders before any job, with its key named.

Built from the demo study (``config.yaml``): one change per case. Study-level cases go through
``llm_footprint.study.load_study``, the call the workflow makes when it parses; file-level cases
(what only the text of the file shows: a key given twice, a YAML syntax error) go through the
strict reader ``llm_footprint.schema.check_config_files`` that the workflow runs on the files
Snakemake was given.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO, SCHEMA, demo_config
from llm_footprint.schema import ConfigError, ConfigFileError, check_config_files
from llm_footprint.study import load_study

DEMO_TEXT = (REPO / "config.yaml").read_text(encoding="utf-8")


def _set(config: dict, dotted: str, value: Any) -> None:
    parts = [int(p) if p.isdigit() else p for p in dotted.split(".")]
    node: Any = config
    for part in parts[:-1]:
        node = node[part] if isinstance(part, int) else node.setdefault(part, {})
    node[parts[-1]] = value


def _local_model(folder: Path, weights: bool = True, hidden: int = 576) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(
        {"model_type": "llama", "hidden_size": hidden, "intermediate_size": 1536,
         "num_attention_heads": 9, "head_dim": 64, "max_position_embeddings": 8192}))
    (folder / "tokenizer.json").write_text("{}")
    if weights:
        (folder / "model.safetensors").write_bytes(b"")
    return folder


def _hub_cache_model(resources_root: Path, repo_id: str, hidden: int) -> None:
    """A hub snapshot as huggingface_hub caches it, config.json only, under the workflow's
    own cache (resources/hf_cache/hub)."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = resources_root / "hf_cache" / "hub" / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text(json.dumps(
        {"model_type": "llama", "hidden_size": hidden, "intermediate_size": 4 * hidden}))


@dataclass(frozen=True)
class Case:
    name: str
    change: Callable[[dict, Path], None]
    key: str
    words: str


def setting(dotted: str, value: Any) -> Callable[[dict, Path], None]:
    return lambda config, _tmp: _set(config, dotted, value)


def _no_weights(config: dict, tmp: Path) -> None:
    config["models"] = {"local": {"path": str(_local_model(tmp / "no-weights", weights=False))}}


def _cached_hub_model(config: dict, tmp: Path) -> None:
    config["study"]["resources_root"] = str(tmp / "resources")
    _hub_cache_model(tmp / "resources", "example-org/wide-model", hidden=600)
    config["models"] = {"wide": {"hf": "example-org/wide-model"}}


def _context_beyond_local_model(config: dict, tmp: Path) -> None:
    config["models"] = {"local": {"path": str(_local_model(tmp / "ctx"))}}
    config["quality"]["perplexity"]["context_tokens"] = 16384


INF, NAN = math.inf, math.nan

STUDY_CASES = [
    # non-finite numbers: NaN passes every comparison, so ranges alone do not catch it
    Case("duration inf", setting("energy.schedule.duration_s", INF),
         "energy.schedule.duration_s", "finite number, got inf"),
    Case("duration nan", setting("energy.schedule.duration_s", NAN),
         "energy.schedule.duration_s", "finite number, got nan"),
    Case("interval -inf", setting("energy.schedule.mean_interval_s", -INF),
         "energy.schedule.mean_interval_s", "finite number"),
    Case("overhead nan", setting("feasibility.overhead_gb", NAN),
         "feasibility.overhead_gb", "finite number"),
    Case("cpu power inf", setting("energy.tracker.force_cpu_power_w", INF),
         "energy.tracker.force_cpu_power_w", "finite number"),
    Case("memory nan", setting("setups.laptop-cpu.mem_gb", NAN),
         "setups.laptop-cpu.mem_gb", "finite number"),
    Case("damp nan", setting("variants.gptq-4bit.damp_percent", NAN),
         "variants.gptq-4bit.damp_percent", "finite number"),
    Case("task limit inf", setting("quality.tasks.0.limit", INF),
         "quality.tasks[0].limit", "finite number"),
    # plausible ranges, each error naming the range
    Case("duration a century", setting("energy.schedule.duration_s", 3.2e9),
         "energy.schedule.duration_s", "above the maximum; allowed: > 0 and <= 604800"),
    Case("duration zero", setting("energy.schedule.duration_s", 0),
         "energy.schedule.duration_s", "below the minimum; allowed: > 0"),
    Case("sampling 1 us", setting("energy.tracker.measure_power_secs", 1e-6),
         "energy.tracker.measure_power_secs", "allowed: >= 0.1 and <= 3600"),
    Case("sampling 2 h", setting("energy.tracker.measure_power_secs", 7200),
         "energy.tracker.measure_power_secs", "above the maximum"),
    Case("perplexity context 1e9", setting("quality.perplexity.context_tokens", 10**9),
         "quality.perplexity.context_tokens", "<= 1048576"),
    Case("feasibility context 1e9", setting("feasibility.context_tokens", 10**9),
         "feasibility.context_tokens", "above the maximum"),
    Case("activation negative", setting("feasibility.activation_fraction", -0.1),
         "feasibility.activation_fraction", "below the minimum"),
    Case("ram factor zero", setting("energy.tracker.ram_correction_factor", 0),
         "energy.tracker.ram_correction_factor", "below the minimum; allowed: > 0"),
    Case("ram factor 1000", setting("energy.tracker.ram_correction_factor", 1000),
         "energy.tracker.ram_correction_factor", "<= 100"),
    Case("repeats 1e5", setting("energy.repeats", 100000), "energy.repeats", "<= 1000"),
    Case("warmup negative", setting("energy.warmup_requests", -1),
         "energy.warmup_requests", "below the minimum"),
    Case("idle window 12 days", setting("energy.idle_window_s", 1e6),
         "energy.idle_window_s", "<= 86400"),
    Case("deviation 200 %", setting("energy.max_duration_deviation", 2),
         "energy.max_duration_deviation", "<= 1"),
    Case("no new tokens", setting("energy.generation.max_new_tokens", 0),
         "energy.generation.max_new_tokens", "below the minimum"),
    Case("negative seed", setting("energy.generation.seed", -1),
         "energy.generation.seed", ">= 0 and <= 4294967295"),
    Case("seed beyond 32 bits", setting("variants.gptq-4bit.calibration.seed", 2**40),
         "variants.gptq-4bit.calibration.seed", "<= 4294967295"),
    Case("pue below 1", setting("carbon.pue", 0.5), "carbon.pue", ">= 1 and <= 5"),
    Case("pue 50", setting("carbon.pue", 50), "carbon.pue", "above the maximum"),
    Case("year 1850", setting("carbon.year", 1850), "carbon.year", ">= 1990 and <= 2100"),
    Case("no cores", setting("setups.laptop-cpu.cpus", 0), "setups.laptop-cpu.cpus",
         "below the minimum"),
    Case("lifetime 1000 years", setting("setups.laptop-cpu.embodied.lifetime_years", 1000),
         "setups.laptop-cpu.embodied.lifetime_years", "<= 50"),
    Case("utilisation 150 %", setting("setups.laptop-cpu.embodied.utilisation", 1.5),
         "setups.laptop-cpu.embodied.utilisation", "<= 1"),
    Case("calibration tokens 1e7", setting("variants.gptq-4bit.calibration.max_tokens", 10**7),
         "variants.gptq-4bit.calibration.max_tokens", "above the maximum"),
    Case("fewshot 1000", setting("quality.tasks.1.num_fewshot", 1000),
         "quality.tasks[1].num_fewshot", "<= 100"),
    Case("stride zero", setting("quality.perplexity.stride", 0),
         "quality.perplexity.stride", "below the minimum"),
    Case("weight 5", setting("tradeoff.weights", {"w": {"alpha": 5, "beta": 0.5}}),
         "tradeoff.weights.w.alpha", "<= 1"),
    Case("chance as a percentage", setting("tradeoff.metrics.1.chance", 25),
         "tradeoff.metrics[1].chance", "<= 1"),
    Case("a million billion parameters", setting("models.smollm2-135m.params_b", 1e6),
         "models.smollm2-135m.params_b", "<= 10000"),
    # checks at parse time that used to wait for a job
    Case("tracker country XYZ", setting("energy.tracker.country_iso_code", "XYZ"),
         "energy.tracker.country_iso_code", "not in CodeCarbon's energy mix"),
    Case("tracker country alpha-2", setting("energy.tracker.country_iso_code", "BE"),
         "energy.tracker.country_iso_code", "does not match"),
    Case("carbon country XYZ", setting("carbon.countries", ["BEL", "XYZ"]),
         "carbon.countries[1]", "no grid carbon intensity"),
    Case("model folder without weights", _no_weights, "models.local.path", "no weights"),
    Case("group size vs GGUF metadata", setting("variants.gptq-4bit.group_size", 128),
         "variants.gptq-4bit.group_size", "hidden_size=576"),
    Case("group size vs cached hub config", _cached_hub_model,
         "variants.gptq-4bit.group_size", "hidden_size=600"),
    Case("context beyond GGUF metadata", setting("quality.perplexity.context_tokens", 16384),
         "quality.perplexity.context_tokens", "maximum context of 8192"),
    Case("context beyond local config.json", _context_beyond_local_model,
         "quality.perplexity.context_tokens", "maximum context of 8192"),
    Case("interval longer than window", setting("energy.schedule.mean_interval_s", 120),
         "energy.schedule.mean_interval_s", "no prompt would arrive"),
]


@pytest.mark.parametrize("case", STUDY_CASES, ids=[c.name for c in STUDY_CASES])
def test_malformed_study_is_refused_naming_the_key(case, tmp_path):
    config = demo_config()
    case.change(config, tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_study(config, SCHEMA)
    assert caught.value.key == case.key, str(caught.value)
    assert f"'{case.key}'" in str(caught.value)
    assert case.words in str(caught.value), str(caught.value)


def _line_of(text: str, pattern: str, occurrence: int = 1) -> int:
    matches = [m.start() for m in re.finditer(pattern, text, flags=re.MULTILINE)]
    return text[:matches[occurrence - 1]].count("\n") + 1


def _duplicate_variant(text: str) -> str:
    return text.replace("\nsetups:\n", "\n  full:\n    method: none\n    dtype: bfloat16\n\nsetups:\n")


# the replay window's line in the demo study (energy.schedule.duration_s, four spaces in)
_WINDOW = re.compile(r"^(    duration_s: )\S+$", re.MULTILINE)


def _duplicate_nested(text: str) -> str:
    return _WINDOW.sub(lambda m: f"{m.group(0)}\n{m.group(1)}600", text, count=1)


def _duplicate_top_level(text: str) -> str:
    return text + "\nstudy:\n  name: other\n"


@dataclass(frozen=True)
class FileCase:
    name: str
    edit: Callable[[str], str]
    key: str
    words: Callable[[str], list[str]]


FILE_CASES = [
    FileCase("duplicate variant id", _duplicate_variant, "variants.full",
             lambda t: [f"lines {_line_of(t, '^  full:$')} and {_line_of(t, '^  full:$', 2)}"]),
    FileCase("duplicate nested key", _duplicate_nested, "energy.schedule.duration_s",
             lambda t: [f"lines {_line_of(t, '^    duration_s:')} and "
                        f"{_line_of(t, '^    duration_s:', 2)}"]),
    FileCase("duplicate top-level key", _duplicate_top_level, "study",
             lambda t: [f"lines {_line_of(t, '^study:$')} and {_line_of(t, '^study:$', 2)}"]),
    FileCase("unclosed bracket", lambda t: t.replace("countries: [BEL, DEU, FRA, NLD]",
                                                     "countries: [BEL, DEU, FRA, NLD"), "",
             lambda t: ["YAML syntax error", f":{_line_of(t, '^  pue:')}:"]),
    FileCase("tab indentation", lambda t: t.replace("  name: demo\n", "\tname: demo\n"), "",
             lambda t: ["YAML syntax error", f"line {_line_of(t, '^.name: demo')}, column 1"]),
    FileCase(".inf in the file", lambda t: _WINDOW.sub(r"\g<1>.inf", t, count=1),
             "energy.schedule.duration_s", lambda t: ["finite number, got inf"]),
    FileCase(".nan in the file", lambda t: t.replace("measure_power_secs: 1",
                                                      "measure_power_secs: .nan"),
             "energy.tracker.measure_power_secs", lambda t: ["finite number, got nan"]),
]


@pytest.mark.parametrize("case", FILE_CASES, ids=[c.name for c in FILE_CASES])
def test_malformed_study_file_is_refused_with_its_position(case, tmp_path):
    text = case.edit(DEMO_TEXT)
    assert text != DEMO_TEXT, "the edit must change the demo study"
    path = tmp_path / "study.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigFileError) as caught:
        check_config_files([path])
    assert caught.value.key == case.key, str(caught.value)
    message = str(caught.value)
    assert str(path) in message
    if case.key:
        assert f"'{case.key}'" in message
    for words in case.words(text):
        assert words in message, message


def test_demo_and_shipped_studies_pass_the_strict_reader():
    check_config_files([REPO / "config.yaml", *sorted((REPO / "configs").glob("*.yaml"))])


def test_the_table_is_large_enough():
    assert len(STUDY_CASES) + len(FILE_CASES) >= 40


def test_command_line_check_reports_file_line_and_key(tmp_path):
    """`make check-config` runs this before Snakemake, whose own reader gives no position."""
    import subprocess
    import sys

    path = tmp_path / "study.yaml"
    path.write_text(_duplicate_variant(DEMO_TEXT), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "llm_footprint.schema", str(REPO / "config.yaml"),
                             str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert f"{path}: config key 'variants.full': is given twice" in result.stderr
    assert str(REPO / "config.yaml") not in result.stderr
