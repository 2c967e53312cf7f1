"""Shared start of every workflow script: make the package importable and log to the rule's log.

Snakemake puts this folder on sys.path for local scripts, so each script begins with
``from _job import call, start``, then calls one llm_footprint function with ``call``, keyword
arguments only; the work itself lives there:

    start(snakemake)
    from llm_footprint.tables import scenario_table

    call(scenario_table, snakemake, scenario=snakemake.wildcards.scenario,
         summary_dirs=snakemake.input.measurements, out_csv=snakemake.output.table)
"""

import inspect
import os
import sys
import traceback
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
if SRC.is_dir() and str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))


# Test hook, for exercising retries on a real cluster: a job of rule LLM_FOOTPRINT_FAULT_RULE
# given less than LLM_FOOTPRINT_FAULT_MIN_MEM_MB fails as if killed for memory.
FAULT_RULE = "LLM_FOOTPRINT_FAULT_RULE"
FAULT_MIN_MEM_MB = "LLM_FOOTPRINT_FAULT_MIN_MEM_MB"


def start(snakemake, offline=False):
    """Redirect all output to the job's log (a failure is also echoed to the console).

    ``offline``: the job runs on a compute node and reads the hub only from the prefetched
    cache; set before any Hugging Face library is imported.
    """
    if offline:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["HF_DATASETS_OFFLINE"] = "1"
    if snakemake.log:
        from llm_footprint import runlog

        console = os.fdopen(os.dup(2), "w", buffering=1)
        runlog.to_file(snakemake.log[0])

        def report_failure(kind, error, tb):
            traceback.print_exception(kind, error, tb)  # full traceback into the log
            console.write(f"{kind.__name__}: {error}\n  (details: {snakemake.log[0]})\n")

        sys.excepthook = report_failure
    _injected_fault(snakemake)
    footprint = getattr(snakemake.params, "footprint", None)
    if "footprint" in snakemake.output.keys() and footprint and footprint.get("enabled"):
        # the job's tracker starts after the imports; CodeCarbon's CPU lookup runs beside them
        from llm_footprint.energy.tracker import look_up_cpu_model_in_background

        look_up_cpu_model_in_background()


def call(function, snakemake, /, **named):
    """``function(**named)``, plus what the job itself gives where ``function`` takes it and
    ``named`` does not: each wildcard as the parameter ``<wildcard>_id`` (``model_id`` is the
    job's ``{model}``) and the job's ``threads``. Inputs, outputs and params are always named
    by the script, so that it shows which file goes where."""
    parameters = inspect.signature(function).parameters
    job = {f"{name}_id": value for name, value in snakemake.wildcards.items()}
    job["threads"] = snakemake.threads
    implied = {name: value for name, value in job.items() if name in parameters and name not in named}
    return function(**implied, **named)


def tracked(snakemake, device):
    """The job's own footprint: a CodeCarbon tracker around the block, its record written to
    the rule's ``footprint`` output when the block succeeds (llm_footprint.job_footprint)."""
    from llm_footprint.job_footprint import tracked_job

    gpus = int(snakemake.resources.get("gpu", 0) or 0) if device == "cuda" else 0
    return tracked_job(snakemake.output.footprint, snakemake.rule, dict(snakemake.wildcards.items()),
                       snakemake.params.footprint, device, gpus)


def _injected_fault(snakemake):
    if os.environ.get(FAULT_RULE) != snakemake.rule or not os.environ.get(FAULT_MIN_MEM_MB):
        return
    mem_mb = int(snakemake.resources.get("mem_mb", 0))
    if mem_mb < int(os.environ[FAULT_MIN_MEM_MB]):
        raise MemoryError(f"injected fault ({FAULT_RULE}): {mem_mb} MB is below "
                          f"{os.environ[FAULT_MIN_MEM_MB]} MB")
