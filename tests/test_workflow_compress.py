"""End to end: Snakemake prepares the real demo model and quantizes it with real GPTQ."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
from conftest import small_demo_config, snakemake, write_config

pytestmark = pytest.mark.e2e

TABLE = "results/tables/compression.csv"
CHECKPOINTS = [f"results/checkpoints/smollm2-135m/{v}" for v in ("full", "gptq-4bit", "gptq-8bit")]
TARGETS = [*CHECKPOINTS, TABLE]  # what `rule all` asks of this stage


@pytest.fixture(scope="module")
def compressed(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("compress-e2e")
    configfile = write_config(workdir, small_demo_config())
    snakemake(workdir, configfile, *TARGETS)
    return workdir, configfile


def _job_counts(plan: str) -> dict[str, int]:
    """Rows of Snakemake's 'Job stats' table."""
    counts = {}
    for line in plan.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return counts


def _summary(workdir, variant):
    path = workdir / "results/checkpoints/smollm2-135m" / variant / "compress_summary.json"
    return json.loads(path.read_text())


def test_compression_table_has_one_row_per_variant(compressed):
    workdir, _ = compressed
    with open(workdir / TABLE, newline="") as handle:
        rows = {row["variant"]: row for row in csv.DictReader(handle)}
    assert set(rows) == {"full", "gptq-4bit", "gptq-8bit"}
    assert float(rows["full"]["compression_ratio"]) == 1.0
    assert float(rows["gptq-4bit"]["compression_ratio"]) > float(rows["gptq-8bit"]["compression_ratio"]) > 1.5
    assert rows["gptq-4bit"]["bits"] == "4" and rows["gptq-4bit"]["group_size"] == "64"
    assert int(rows["gptq-4bit"]["calibration_n_samples"]) == 16


def test_reference_variant_points_at_the_prepared_model(compressed):
    workdir, _ = compressed
    checkpoint = workdir / "results/checkpoints/smollm2-135m/full"
    files = sorted(p.name for p in checkpoint.iterdir() if not p.name.startswith("."))
    assert files == ["compress_summary.json", "manifest.json"]
    manifest = json.loads((checkpoint / "manifest.json").read_text())
    assert (checkpoint / manifest["weights_dir"]).resolve() == (workdir / "resources/models/smollm2-135m").resolve()


def test_gptq_summary_records_what_produced_it(compressed):
    workdir, _ = compressed
    summary = _summary(workdir, "gptq-4bit")
    prepared = json.loads((workdir / "resources/models/smollm2-135m/provenance.json").read_text())
    assert summary["size_on_disk_mb"] < prepared["size_on_disk_mb"] / 3
    assert 16 * 64 < summary["calibration"]["tokens_total"] <= 16 * 128
    assert summary["calibration"]["source"] == "pydoc_topics"
    assert summary["wall_time_s"] > 0
    assert summary["gptqmodel_cpu_workers"] == 2
    assert summary["provenance"]["versions"]["gptqmodel"] == "7.6.0"
    assert summary["provenance"]["config"]["variant"]["bits"] == 4
    assert summary["mean_quant_loss"] > 0


@pytest.mark.parametrize("variant", ["gptq-4bit", "gptq-8bit"])
def test_checkpoint_loads_with_gptqmodel_and_generates(compressed, variant):
    from llm_footprint.loading import load_for_inference

    workdir, _ = compressed
    loaded = load_for_inference(workdir / "results/checkpoints/smollm2-135m" / variant, "cpu", threads=2)
    assert loaded.details["loader"] == "gptqmodel" and loaded.details["kernels"]
    inputs = loaded.tokenizer("The capital of France is", return_tensors="pt")
    output = loaded.model.generate(**inputs, max_new_tokens=8, do_sample=False)
    new_tokens = output[0][inputs["input_ids"].shape[1]:]
    assert len(new_tokens) > 0
    assert loaded.tokenizer.decode(new_tokens, skip_special_tokens=True).strip()


def test_gptq_checkpoint_loads_with_transformers_and_optimum(compressed):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    workdir, _ = compressed
    checkpoint = workdir / "results/checkpoints/smollm2-135m/gptq-4bit"
    model = AutoModelForCausalLM.from_pretrained(checkpoint, device_map="cpu")
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    inputs = tokenizer("The capital of France is", return_tensors="pt")
    output = model.generate(**inputs, max_new_tokens=5, do_sample=False)
    assert output.shape[1] > inputs["input_ids"].shape[1]


def test_second_run_has_nothing_to_do(compressed):
    workdir, configfile = compressed
    result = snakemake(workdir, configfile, *TARGETS, "--dry-run")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_deleting_one_checkpoint_rebuilds_only_that_one(compressed):
    workdir, configfile = compressed
    target = workdir / "results/checkpoints/smollm2-135m/gptq-8bit"
    before = _summary(workdir, "gptq-4bit")["provenance"]["created_utc"]
    shutil.rmtree(target)
    plan = snakemake(workdir, configfile, *TARGETS, "--dry-run", "--quiet", "rules").stdout
    jobs = _job_counts(plan)
    assert jobs == {"compress": 1, "compression_table": 1, "total": 2}, plan
    # a single target builds alone
    snakemake(workdir, configfile, "results/checkpoints/smollm2-135m/gptq-8bit")
    assert (target / "model.safetensors").is_file()
    assert _summary(workdir, "gptq-4bit")["provenance"]["created_utc"] == before
    snakemake(workdir, configfile, *TARGETS)


def test_group_size_that_does_not_divide_the_model_fails_before_quantizing(compressed):
    workdir, _ = compressed
    config = small_demo_config()
    config["variants"]["gptq-4bit"]["group_size"] = 128
    configfile = write_config(workdir, config, "bad-group.yaml")
    # the model is prepared in this workdir, so the check runs when the workflow is parsed
    result = snakemake(workdir, configfile, TABLE, "--dry-run", check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "config key 'variants.gptq-4bit.group_size'" in output
    assert "hidden_size=576" in output
