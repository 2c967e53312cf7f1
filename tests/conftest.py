"""Shared fixtures: the repository, the demo model, and running Snakemake in a scratch folder."""

from __future__ import annotations

import copy
import json
import math
import os
import subprocess
import sys
import time
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

# PyTorch and oneDNN then dispatch as on an AVX2-only CPU (no native bf16), whatever this CPU
# has: the end-to-end runs behave alike on every machine, and on the CPUs most users have.
AVX2_ENV = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
# new tokens per request in the tests' energy runs
SERVICE_TOKENS = 16
# as make demo schedules a run on one machine (the Makefile's LOCAL_THREADS): the model jobs
# that do not measure run on one core each, two at a time on 2 cores
LOCAL_THREADS = ("--set-threads", "compress=1", "compress_step=1", "evaluate=1")


def demo_config() -> dict:
    with open(REPO / "config.yaml", encoding="utf-8") as handle:
        # a JSON round trip undoes YAML aliases, so a test can change one variant alone
        return json.loads(json.dumps(yaml.safe_load(handle)))


def write_config(folder: Path, config: dict, name: str = "config.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def snakemake(workdir: Path, configfile: Path, *args: str, check: bool = True,
              timeout: int = 1800, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the workflow's Snakefile with ``workdir`` as its working directory."""
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
               "--directory", str(workdir), "--configfile", str(configfile), "--cores", "2",
               *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                            cwd=workdir, env={**os.environ, **(env or {})})
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({result.returncode}):\n"
                             f"{result.stdout[-4000:]}\n{result.stderr[-6000:]}")
    return result


def copy_prepared_model(source: Path, workdir: Path, model: str) -> None:
    """Copy the model another run in ``source`` prepared, with its footprint record and
    Snakemake's metadata (modification times kept), so that a test that starts after that
    stage does not prepare the model again."""
    import shutil

    prepared = Path("resources/models") / model
    shutil.copytree(source / prepared, workdir / prepared)
    footprint = Path("results/footprint/prepare_model") / f"{model}.json"
    (workdir / footprint).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / footprint, workdir / footprint)
    shutil.copytree(source / ".snakemake" / "metadata", workdir / ".snakemake" / "metadata",
                    dirs_exist_ok=True)


def served_schedule(service_time_s: float, n_requests: int) -> tuple[dict, float]:
    """A replay schedule this machine can serve, from a measured service time.

    The gap between requests is four service times on average (at least 3 s), so that
    requests seldom queue, and the duration tolerance covers the last request running past
    the window's end even when all of them queue: a slow CPU gets a longer window rather than
    a rejected run.
    """
    interval_s = max(3.0, float(math.ceil(4 * service_time_s)))
    duration_s = n_requests * interval_s
    max_deviation = max(0.05, round(3 * service_time_s / duration_s, 3))
    return {"duration_s": duration_s, "mean_interval_s": interval_s}, max_deviation


# the variants of the cut-down study that runs on the SLURM test cluster
# (round-to-nearest quantization: a deterministic checkpoint to compare, in a fraction of
# GPTQ's time; the cluster runs the same compress rule either way)
SLURM_VARIANTS = ("full", "rtn-4bit")


# requests per replay window in the cut-down study, when it is measured on this machine
SERVED_REQUESTS = 3


def small_demo_config(output_root: str = "results", service_time_s: float | None = None,
                      variants: tuple[str, ...] | None = None) -> dict:
    """The demo study cut down for tests: the same stages and code paths, less data.

    With ``service_time_s`` (see the ``service_time_s`` fixture) the energy schedule is derived
    from it; without, a 20 s window with 4 requests (for tests that plan but do not measure).
    ``variants`` keeps only those of the demo's variants (all by default). Its energy stage is
    the timed replay alone, once; tests that measure scenarios add them.
    """
    config = copy.deepcopy(demo_config())
    config["study"]["output_root"] = output_root
    if variants is not None:
        config["variants"] = {k: v for k, v in config["variants"].items() if k in variants}
    for variant in config["variants"].values():
        if "calibration" in variant:
            variant["calibration"] = {**variant["calibration"], "n_samples": 16, "max_tokens": 128}
    config["energy"].pop("scenarios", None)
    config["energy"].update(repeats=1, idle_window_s=0, precision=None)
    limits = {"wikitext": 2, "mmlu": 20, "ifeval": 3}
    for task in config["quality"]["tasks"]:
        task["limit"] = limits[task["name"]]
        if task["name"] == "ifeval":
            task["max_gen_toks"] = 32
    # the first 1,024-token window of the demo text (of three) keeps what the tests check:
    # full lowest, GPTQ below RTN, every change over 5 % (measured: full 18.9, ah-80 21.8,
    # gptq-4bit 24.6, bnb-nf4 25.5, rtn-4bit 26.0, 2:4 165; nf4 and GPTQ swap places there)
    config["quality"]["perplexity"]["max_windows"] = 1
    # 20 MMLU questions can land on the 0.8 x chance net, where Pc is undefined
    config["tradeoff"]["metrics"] = [{"task": "perplexity", "metric": "token_perplexity"}]
    config["energy"]["schedule"].update(duration_s=20, mean_interval_s=5)
    if service_time_s is not None:
        schedule, max_deviation = served_schedule(service_time_s, n_requests=SERVED_REQUESTS)
        config["energy"]["schedule"].update(schedule)
        config["energy"]["max_duration_deviation"] = max_deviation
    config["energy"]["generation"]["max_new_tokens"] = SERVICE_TOKENS
    config["energy"]["tracker"]["measure_power_secs"] = 1
    # a test host may run other work beside the suite: up to one foreign core is tolerated
    # (recorded in every run), beyond that a window is rejected as in a real study
    config["energy"]["max_foreign_cpu_share"] = 1.0
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


def tiny_gpt2(folder: Path, demo_model_dir: Path, n_embd: int) -> Path:
    """A random two-block, four-head GPT-2 (fused Conv1D attention) with the demo tokenizer and
    a provenance record, as a prepared model folder."""
    import shutil

    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(vocab_size=49152, n_positions=128, n_embd=n_embd, n_layer=2,
                               n_head=4)).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(demo_model_dir / name, folder / name)
    (folder / "provenance.json").write_text(json.dumps(
        {"size_on_disk_mb": 1.0, "source": {"path": "tiny"}, "dtype": "float32"}))
    return folder


@pytest.fixture(scope="session")
def service_time_s(demo_model_dir) -> float:
    """Seconds the demo model takes to answer one test request (16 new tokens) here, with the
    setups' two threads: the median of three greedy generations after a warm-up, so that
    schedules fit the machine at hand."""
    import statistics

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(2)
    model = AutoModelForCausalLM.from_pretrained(demo_model_dir, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(demo_model_dir)
    inputs = tokenizer("Hello, how are you doing today? Tell me about your plans.",
                       return_tensors="pt")
    timings = []
    with torch.inference_mode():
        for _ in range(4):
            started = time.perf_counter()
            model.generate(**inputs, max_new_tokens=SERVICE_TOKENS, min_new_tokens=SERVICE_TOKENS,
                           do_sample=False)
            timings.append(time.perf_counter() - started)
    service_s = statistics.median(timings[1:])  # the first one warms up
    print(f"\ndemo model service time: {service_s:.2f} s for {SERVICE_TOKENS} tokens "
          f"(warm-up {timings[0]:.2f} s)")
    return service_s


@pytest.fixture(scope="session")
def demo_study_run(tmp_path_factory, service_time_s):
    """The cut-down demo study run once, end to end, as on an AVX2-only CPU (AVX2_ENV); every
    test that needs quantized checkpoints, quality or energy results of the demo reads these."""
    workdir = tmp_path_factory.mktemp("demo-study")
    config = small_demo_config(service_time_s=service_time_s)
    # the scenarios beside the replay, and the idle window for dynamic energy, kept short; no
    # scenario warm-ups (the tests check the pipeline and the units, not a first run's bias)
    config["energy"]["idle_window_s"] = 3
    config["energy"]["idle_precision"] = {"target": 0.05, "slice_s": 1, "min_slices": 2}
    config["energy"]["scenarios"] = {
        "fixed_workload": {"workload": "perplexity", "repeats": 2, "max_windows": 1,
                           "warmup_runs": 0},
        "saturated": {"batch_sizes": [1, 2], "duration_s": 3, "warmup_runs": 0}}
    configfile = write_config(workdir, config)
    started = time.monotonic()
    snakemake(workdir, configfile, *LOCAL_THREADS, env=AVX2_ENV)
    print(f"\ndemo study (cut down) ran in {time.monotonic() - started:.0f} s")
    return workdir, configfile
