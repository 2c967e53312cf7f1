"""The SLURM profile on a real, local SLURM cluster (tests/slurm/cluster.sh).

The demo study (cut down, with two CPU setups routed to the two partitions named like the
thesis's setups) runs through `snakemake --profile profiles/slurm`; every compute job must
land in its setup's partition, an injected out-of-memory failure must succeed on the retry
with more memory, and the results must match a local run's. Bad requests must fail fast with
SLURM's reason. Skips where no cluster can be started (not root, no Debian packages).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import (
    AVX2_ENV,
    REPO,
    SERVED_REQUESTS,
    SLURM_VARIANTS,
    copy_prepared_model,
    small_demo_config,
    write_config,
)

pytestmark = [pytest.mark.slurm, pytest.mark.e2e]

CLUSTER = REPO / "tests" / "slurm" / "cluster.sh"
PROFILE = REPO / "profiles" / "slurm"
OVERLAY = REPO / "tests" / "slurm" / "overlay"
MODEL = "smollm2-135m"


@pytest.fixture(scope="session")
def slurm_cluster():
    if os.geteuid() != 0:
        pytest.skip("starting a SLURM cluster needs root")
    if shutil.which("apt-get") is None:
        pytest.skip("the test cluster is installed from Debian packages (no apt-get here)")
    result = subprocess.run(["bash", str(CLUSTER), "start"], capture_output=True, text=True,
                            timeout=900)
    if result.returncode != 0:
        pytest.fail(f"could not start the SLURM test cluster:\n{result.stdout}\n{result.stderr}")
    yield
    subprocess.run(["bash", str(CLUSTER), "stop"], capture_output=True, timeout=120)
    # a stopped cluster's slurm.conf left at the default path made every scontrol, and so
    # every later snakemake command (its SLURM plugin asks scontrol on import), wait 9 s
    leftover = Path("/etc/slurm/slurm.conf")
    state = os.environ.get("LLMFP_SLURM_DIR", "/tmp/llmfp-slurm")
    assert not (leftover.is_symlink() and os.readlink(leftover).startswith(state)), (
        f"{CLUSTER} stop left {leftover} -> {os.readlink(leftover)}")


# the energy tuples the cluster measures: every variant on the default setup (where quality
# is evaluated: excluding a variant there would drop its quality) and the baseline on the
# other partition too
MEASURED = (("full", "cpu-40"), ("full", "cpu-80"), ("rtn-4bit", "cpu-40"))


def slurm_study(service_time_s: float | None = None) -> dict:
    config = small_demo_config(service_time_s=service_time_s, variants=SLURM_VARIANTS)
    config["study"]["default_setup"] = "cpu-40"
    config["study"]["exclude"] = [{"variant": v, "setup": s} for v in SLURM_VARIANTS
                                  for s in ("cpu-40", "cpu-80") if (v, s) not in MEASURED]
    base = config["setups"]["laptop-cpu"]
    config["setups"] = {
        "cpu-40": {**copy.deepcopy(base), "partition": "a100-40gb"},
        "cpu-80": {**copy.deepcopy(base), "partition": "a100-80gb"},
    }
    return config


def run_on_slurm(workdir: Path, configfile: Path, *targets: str, env: dict | None = None,
                 timeout: int = 1800) -> subprocess.CompletedProcess:
    command = ["timeout", "-k", "10", str(timeout), sys.executable, "-m", "snakemake",
               "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
               "--configfile", str(configfile), "--profile", str(PROFILE),
               "--workflow-profile", str(OVERLAY), *targets]
    # jobs inherit the environment (--export=ALL): the same AVX2 dispatch as the local run
    return subprocess.run(command, capture_output=True, text=True, cwd=workdir,
                          env={**os.environ, **AVX2_ENV, **(env or {})}, timeout=timeout + 60)


def submitted_jobs(workdir: Path) -> list[dict]:
    """Jobs from the plugin's log tree (logs/slurm/rule_<rule>/<wildcards>/<id>.log) + sacct."""
    jobs = []
    for log in sorted((workdir / "logs" / "slurm").rglob("*.log")):
        rule = log.relative_to(workdir / "logs" / "slurm").parts[0].removeprefix("rule_")
        wildcards = log.parent.name
        jobs.append({"rule": rule, "wildcards": wildcards, "id": log.stem})
    ids = ",".join(j["id"] for j in jobs)
    out = subprocess.run(["sacct", "-n", "-P", "-X", "-j", ids, "-o", "JobID,Partition,State,ReqMem"],
                         capture_output=True, text=True, check=True).stdout
    accounting = {line.split("|")[0]: line.split("|")[1:] for line in out.splitlines() if line}
    for job in jobs:
        job["partition"], job["state"], job["req_mem"] = accounting[job["id"]]
    return jobs


def _megabytes(req_mem: str) -> int:
    """sacct's ReqMem ('8G', '12288M', '512000M') in MB."""
    units = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}
    return int(float(req_mem[:-1]) * units[req_mem[-1]])


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def slurm_run(slurm_cluster, tmp_path_factory, service_time_s, demo_study_run):
    """The cut-down study on the cluster, from the model the local run prepared (preparing is
    a local rule: it would not touch the cluster)."""
    workdir = tmp_path_factory.mktemp("slurm-run")
    copy_prepared_model(demo_study_run[0], workdir, MODEL)
    configfile = write_config(workdir, slurm_study(service_time_s))
    fault = {"LLM_FOOTPRINT_FAULT_RULE": "evaluate", "LLM_FOOTPRINT_FAULT_MIN_MEM_MB": "10000"}
    result = run_on_slurm(workdir, configfile, env=fault)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-8000:]
    return workdir, configfile, result


def test_every_compute_job_ran_in_its_setups_partition(slurm_run):
    workdir, _, _ = slurm_run
    jobs = submitted_jobs(workdir)
    assert {j["rule"] for j in jobs} == {"compress", "evaluate", "measure_energy"}
    for job in jobs:
        if job["rule"] == "measure_energy":
            expected = "a100-80gb" if "cpu-80" in job["wildcards"] else "a100-40gb"
        else:  # quantization and quality evaluation run on the default setup
            expected = "a100-40gb"
        assert job["partition"] == expected, job
    energy = [j for j in jobs if j["rule"] == "measure_energy"]
    # each tuple measured once; an earlier attempt may have been rejected by the sanity checks
    # (on this shared 2-core host a replay can fall behind its schedule) and retried
    completed = [j["wildcards"] for j in energy if j["state"] == "COMPLETED"]
    assert sorted(completed) == sorted(f"{MODEL}_{v}_{s}" for v, s in MEASURED)


def test_failed_first_attempt_succeeds_on_retry_with_more_memory(slurm_run):
    workdir, _, _ = slurm_run
    evaluations = [j for j in submitted_jobs(workdir) if j["rule"] == "evaluate"]
    for variant in SLURM_VARIANTS:
        attempts = sorted((j for j in evaluations if variant in j["wildcards"].split("_")),
                          key=lambda j: int(j["id"]))
        assert [j["state"] for j in attempts] == ["FAILED", "COMPLETED"], attempts
        first, retry = (_megabytes(j["req_mem"]) for j in attempts)
        assert (first, retry) == (8192, 12288)  # the setup's 8 GB, then 1.5 times that


def test_results_match_a_local_run(slurm_run, demo_study_run):
    """The local run is the shared demo study run: same variants, data and seeds."""
    workdir, _, _ = slurm_run
    local, _ = demo_study_run
    for variant in ("rtn-4bit",):
        name = f"results/checkpoints/{MODEL}/{variant}/model.safetensors"
        assert _sha256(workdir / name) == _sha256(local / name), variant  # deterministic
    for variant in SLURM_VARIANTS:
        on_cluster = json.loads((workdir / f"results/quality/{MODEL}/{variant}.json").read_text())
        here = json.loads((local / f"results/quality/{MODEL}/{variant}.json").read_text())
        pairs = zip(sorted(on_cluster["rows"], key=lambda r: (r["task"], r["metric"])),
                    sorted(here["rows"], key=lambda r: (r["task"], r["metric"])))
        for a, b in pairs:
            assert (a["task"], a["metric"]) == (b["task"], b["metric"])
            assert a["value"] == pytest.approx(b["value"], rel=1e-4), (variant, a["metric"])
        assert on_cluster["provenance"]["hardware"]["slurm_partition"] == "a100-40gb"


def test_energy_on_the_cluster_serves_the_whole_schedule(slurm_run):
    workdir, _, _ = slurm_run
    for variant, setup in MEASURED:
        folder = workdir / f"results/energy/{MODEL}/{variant}/{setup}"
        summary = json.loads((folder / "summary.json").read_text())
        run = summary["runs"][0]
        assert run["requests_served"] == SERVED_REQUESTS and run["hardware_energy_kwh"] > 0
        assert summary["provenance"]["hardware"]["slurm_job_id"]
    assert (workdir / "results/figures/carbon_bubbles_smollm2-135m.png").stat().st_size > 5000


def test_partition_that_does_not_exist_fails_clearly(slurm_cluster, tmp_path):
    config = slurm_study()
    config["setups"]["cpu-80"]["partition"] = "no-such-partition"
    configfile = write_config(tmp_path, config)
    target = f"results/energy/{MODEL}/full/cpu-80"
    result = run_on_slurm(tmp_path, configfile, target, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "no-such-partition" in output and "setups.cpu-80.partition" in output, output[-3000:]


def test_request_bigger_than_any_node_is_reported_not_hung(slurm_run, tmp_path):
    copy_prepared_model(slurm_run[0], tmp_path, MODEL)
    config = slurm_study()
    config["setups"]["cpu-80"]["mem_gb"] = 4000  # the largest node has 512 GB
    configfile = write_config(tmp_path, config)
    target = f"results/energy/{MODEL}/full/cpu-80"
    result = run_on_slurm(tmp_path, configfile, target, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode not in (0, 124, 137), "should fail, not succeed or hang"
    assert "Requested node configuration is not available" in output, output[-3000:]
    assert "rule prepare_model" not in output, "the copied model should have been kept"


def _wait_for(condition, timeout_s: float, what: str, process=None) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"snakemake ended before {what}:\n"
                                 f"{process.stdout.read()[-3000:]}\n{process.stderr.read()[-5000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.5)


def _job_state(job_id: str) -> str:
    out = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T"], capture_output=True,
                         text=True).stdout.strip()
    return out or "GONE"


def test_requeued_measurement_resumes_from_its_completed_repeats(slurm_run, tmp_path,
                                                                  service_time_s):
    """`scontrol requeue` of a running measuring job, as a preemption does: SLURM kills it and
    runs its batch script again from the start; the job resumes from the repeats its first
    run completed, so none is lost or counted twice. Requeued jobs wait two minutes before
    they are eligible again; the test lifts that wait (`StartTime=now`), as an administrator
    can, to keep the run short."""
    source = slurm_run[0]
    copy_prepared_model(source, tmp_path, MODEL)
    for name in ("results/checkpoints/smollm2-135m/full", "results/energy/schedule.json"):
        if (source / name).is_dir():
            shutil.copytree(source / name, tmp_path / name)
        else:
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, tmp_path / name)
    config = slurm_study(service_time_s)
    config["energy"]["repeats"] = 2
    configfile = write_config(tmp_path, config)
    target = f"results/energy/{MODEL}/full/cpu-80"
    ledger = tmp_path / f"results/energy/{MODEL}/full/.cpu-80.repeats"
    command = ["timeout", "-k", "10", "900", sys.executable, "-m", "snakemake",
               "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
               "--configfile", str(configfile), "--profile", str(PROFILE),
               "--workflow-profile", str(OVERLAY), target]
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               env={**os.environ, **AVX2_ENV})
    try:
        _wait_for(lambda: (ledger / "replay-0001.json").is_file(), 600,
                  "the first completed repeat", process)
        # the running job: the newest, should an earlier attempt have been rejected and retried
        job_id = max((log.stem for log in
                      (tmp_path / "logs/slurm/rule_measure_energy").rglob("*.log")), key=int)
        subprocess.run(["scontrol", "requeue", job_id], check=True)
        _wait_for(lambda: _job_state(job_id) == "PENDING", 120, "the requeued job to pend")
        subprocess.run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"], check=True)
        stdout, stderr = process.communicate(timeout=900)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stdout[-3000:] + stderr[-5000:]
    summary = json.loads((tmp_path / target / "summary.json").read_text())
    assert summary["provenance"]["hardware"]["slurm_job_id"]
    shown = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True,
                           check=True).stdout
    assert "Restarts=1" in shown, shown  # SLURM did run it twice
    precision = summary["precision"]
    assert precision["repeats"] == 2 and precision["resumed"] >= 1, precision
    assert [run["repeat"] for run in summary["runs"]] == [1, 2]
    starts = [run["started_utc"] for run in summary["runs"]]
    assert len(set(starts)) == 2 and starts == sorted(starts)
    rows = (tmp_path / target / "emissions.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 2  # one CodeCarbon row per repeat, none from the killed attempt
    log_text = (tmp_path / f"results/logs/measure_energy/{MODEL}/full/cpu-80.log").read_text()
    assert f"replay: resuming after {precision['resumed']} completed repeats" in log_text
    assert not ledger.exists()
