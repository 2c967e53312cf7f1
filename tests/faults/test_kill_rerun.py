"""kill -9 of a real job in each expensive stage, then the documented recovery (`make recover`:
`snakemake --unlock`, then `--rerun-incomplete`), on the cut-down demo study.

Each case checks by hashing that the kill left nothing that looks finished, that the rerun
rebuilt nothing that was finished before the kill, and that what it built is whole and was
built from whole inputs.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, demo_config, small_demo_config, snakemake, write_config

pytestmark = pytest.mark.e2e

MODEL = "smollm2-135m"
PREPARED = f"resources/models/{MODEL}"
# round-to-nearest: the compress rule and its writer as for GPTQ, in a fraction of the time
QUANTIZED = f"results/checkpoints/{MODEL}/rtn-4bit"
REFERENCE = f"results/checkpoints/{MODEL}/full"
QUALITY = f"results/quality/{MODEL}/full.json"
ENERGY = f"results/energy/{MODEL}/full/laptop-cpu"
SCHEDULE = "results/energy/schedule.json"
# what the killed jobs read besides their checkpoint, built before the kill
PREFETCH = "resources/prefetch/demo.json"
PUNKT = "resources/nltk_data"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, service_time_s):
    """One scratch workspace for the four cases, which run in the order of the stages."""
    workdir = tmp_path_factory.mktemp("kill-rerun")
    # the cheapest settings that still run every code path of the killed stages
    config = small_demo_config(service_time_s=service_time_s, variants=("full", "rtn-4bit"))
    for task in config["quality"]["tasks"]:
        task["limit"] = {"wikitext": 2, "mmlu": 8, "ifeval": 2}[task["name"]]
    config["quality"]["perplexity"]["max_windows"] = 2
    return workdir, write_config(workdir, config)


def _finished_files(workdir: Path) -> dict[str, str]:
    """sha256 of every file under results/ and resources/ (links followed), logs aside: the
    study's logs live under results/logs and are rewritten by every attempt."""
    digests = {}
    for root in ("results", "resources"):
        for path in sorted((workdir / root).rglob("*")):
            if path.is_file() and not {"hf_cache", "logs"} & set(path.parts):
                digests[str(path.relative_to(workdir))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


# Snakemake's own marker inside finished directory outputs: not scratch
SNAKEMAKE_MARKER = ".snakemake_timestamp"


def _scratch_entries(workdir: Path) -> list[str]:
    """Hidden files and folders (empty ones too) under results/ and resources/: a writer's
    staging is created empty before the job writes into it."""
    return [str(p.relative_to(workdir)) for root in ("results", "resources")
            for p in (workdir / root).rglob(".*")
            if "logs" not in p.parts and p.name != SNAKEMAKE_MARKER]


def _is_scratch(relative: str) -> bool:
    """Hidden entries: the writers' staging (.<name>.XXXXXXXX.part) and GPTQ's disk offload."""
    return any(part.startswith(".") and part != SNAKEMAKE_MARKER
               for part in Path(relative).parts)


def _start(workdir: Path, configfile: Path, target: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
               "--directory", str(workdir), "--configfile", str(configfile), "--cores", "2",
               target]
    # its own session, so that kill -9 reaches Snakemake and the job it runs, as a lost node
    # or a killed terminal would
    return subprocess.Popen(command, cwd=workdir, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _kill_during(workdir: Path, configfile: Path, target: str, log: str,
                 settle_s: float, staged_early: bool, timeout_s: float = 900) -> None:
    """Run ``target``; once its job has logged (and, for writers that stage from the start,
    staged something), wait ``settle_s`` and kill -9 the whole process group."""
    process = _start(workdir, configfile, target)
    staging_parent = (workdir / target).parent
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"{target} ended (rc {process.returncode}) before it could be killed")
            # a writer's staging, or an energy measurement's ledger of completed repeats
            staged = staging_parent.is_dir() and any(
                p.name.startswith(f".{Path(target).name}.")
                and p.name.endswith((".part", ".repeats"))
                for p in staging_parent.iterdir())
            if (workdir / log).is_file() and (staged or not staged_early):
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"{target}: its job never started")
        time.sleep(settle_s)
        assert process.poll() is None, f"{target} finished before the kill; lower settle_s"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _recover(workdir: Path, configfile: Path, target: str) -> None:
    """What `make recover` runs."""
    snakemake(workdir, configfile, "--unlock")
    snakemake(workdir, configfile, "--rerun-incomplete", target)


def _assert_whole(path: Path) -> None:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    assert files, f"{path} is empty"
    for file in files:
        if file.suffix == ".json":
            json.loads(file.read_text())
        elif file.suffix == ".jsonl":
            for line in file.read_text().splitlines():
                json.loads(line)
        elif file.suffix == ".safetensors":
            with open(file, "rb") as handle:
                (length,) = struct.unpack("<Q", handle.read(8))
                header = json.loads(handle.read(length))
            end = max(v["data_offsets"][1] for k, v in header.items() if k != "__metadata__")
            assert 8 + length + end == file.stat().st_size, f"{file} is truncated"


def _kill_and_recover(workspace, target: str, log: str, upstream: list[str], settle_s: float,
                      staged_early: bool) -> tuple[dict[str, str], dict[str, str]]:
    workdir, configfile = workspace
    for needed in upstream:
        snakemake(workdir, configfile, needed)
    before = _finished_files(workdir)
    _kill_during(workdir, configfile, target, log, settle_s, staged_early)
    killed = _finished_files(workdir)
    looks_finished = {f for f in killed if f not in before and not _is_scratch(f)}
    assert not looks_finished, f"the kill left files that look finished: {looks_finished}"
    assert not (workdir / target).exists()
    assert {f: killed[f] for f in before} == before, "the killed job changed finished files"
    if staged_early:
        assert _scratch_entries(workdir), "the kill did not hit the job mid-write"

    _recover(workdir, configfile, target)
    after = _finished_files(workdir)
    assert not _scratch_entries(workdir), "scratch of the killed job remains"
    assert {f: after[f] for f in before} == before, "the rerun rebuilt finished inputs"
    _assert_whole(workdir / target)
    return before, after


def test_kill_prepare_then_rerun(workspace, demo_model_dir, tmp_path):
    """The rerun's prepared weights are byte-identical to an uninterrupted preparation (the
    session's, in another process, unless it was pointed at another model)."""
    _, after = _kill_and_recover(workspace, PREPARED, f"results/logs/prepare_model/{MODEL}.log",
                                 upstream=[], settle_s=1.0, staged_early=True)
    reference = demo_model_dir
    if os.environ.get("LLM_FOOTPRINT_TEST_MODEL_DIR"):
        from llm_footprint.prepare import prepare_model

        reference = tmp_path / MODEL
        prepare_model(MODEL, demo_config()["models"][MODEL], reference)
    for name in ("model.safetensors", "config.json", "tokenizer.json"):
        expected = hashlib.sha256((reference / name).read_bytes()).hexdigest()
        assert after[f"{PREPARED}/{name}"] == expected, name


def test_kill_compress_then_rerun(workspace):
    """The rerun quantized the prepared model as it was before the kill."""
    _, after = _kill_and_recover(workspace, QUANTIZED,
                                 f"results/logs/compress/{MODEL}/rtn-4bit.log",
                                 upstream=[PREPARED, PREFETCH], settle_s=3.0, staged_early=False)
    summary = json.loads((workspace[0] / QUANTIZED / "compress_summary.json").read_text())
    assert summary["variant"] == "rtn-4bit"
    assert any(f.startswith(QUANTIZED) and f.endswith(".safetensors") for f in after)


def test_kill_evaluate_then_rerun(workspace):
    """The rerun scored the same data files: their recorded hashes are those on disk."""
    _kill_and_recover(workspace, QUALITY, f"results/logs/evaluate/{MODEL}/full.log",
                      upstream=[REFERENCE, PREFETCH, PUNKT], settle_s=3.0,
                      staged_early=False)
    payload = json.loads((workspace[0] / QUALITY).read_text())
    assert payload["rows"], "no quality rows"
    on_disk = {hashlib.sha256(p.read_bytes()).hexdigest()
               for p in (REPO / "data" / "demo" / "quality").iterdir() if p.is_file()}
    recorded = set(_values_of_keys_ending(payload, "_sha256")) - {None}
    assert recorded and recorded <= on_disk


def _values_of_keys_ending(node, suffix: str):
    if isinstance(node, dict):
        for key, value in node.items():
            if str(key).endswith(suffix) and not isinstance(value, (dict, list)):
                yield value
            else:
                yield from _values_of_keys_ending(value, suffix)
    elif isinstance(node, list):
        for item in node:
            yield from _values_of_keys_ending(item, suffix)


def test_kill_measure_energy_then_rerun(workspace):
    """The rerun replayed the schedule that was finished before the kill (same sha256)."""
    before, _ = _kill_and_recover(workspace, ENERGY,
                                  f"results/logs/measure_energy/{MODEL}/full/laptop-cpu.log",
                                  upstream=[REFERENCE, SCHEDULE], settle_s=5.0,
                                  staged_early=True)
    summary = json.loads((workspace[0] / ENERGY / "summary.json").read_text())
    assert before[SCHEDULE] in json.dumps(summary), "the run does not name the schedule it replayed"
