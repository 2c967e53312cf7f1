# Shared by all rules files: the study's plan (llm_footprint.plan: paths, tuples, targets, job
# parameters and resources, all unit-tested without Snakemake) and the input functions that
# hand wildcards to it. Rules read only PLAN.
from pathlib import Path

from llm_footprint.plan import ENERGY_EXCLUSIVE_CAPACITY, Plan
from llm_footprint.schema import check_config_files

# The study files as written: Snakemake's own parse lets duplicate keys and .inf/.nan through
check_config_files(workflow.overwrite_configfiles or workflow.configfiles)
# Schema defaults are filled in and every semantic check runs here, at parse time: a bad
# config stops before any job starts, with the offending key named.
PLAN = Plan.from_config(
    config,
    Path(workflow.basedir) / "workflow/schemas/config.schema.yaml",
    search_dirs=[Path.cwd(), Path(workflow.basedir)],
)

# The two parse-time calls with effects outside the plan. On a SLURM cluster a setup naming a
# partition the cluster lacks stops here, not at sbatch (runs sinfo; a dry run elsewhere can
# skip it with LLM_FOOTPRINT_SKIP_PARTITION_CHECK=1). Hub downloads go to the project's cache
# (HF_HOME, kept if already set), which jobs inherit.
PLAN.check_cluster()
PLAN.use_hf_cache()

if "energy_exclusive" not in workflow.global_resources:
    workflow.register_resource("energy_exclusive", ENERGY_EXCLUSIVE_CAPACITY)


# ---- input functions: wildcards -> the plan -------------------------------------------------


def model_spec(wildcards):
    return PLAN.model_spec(wildcards.model)


def compress_spec(wildcards):
    return PLAN.compress_spec(wildcards.variant)


def setup_spec(wildcards):
    return PLAN.runtime_setup(wildcards.setup)


def scenario_dirs(wildcards):
    return PLAN.scenario_dirs(wildcards.scenario)


def compress_input(wildcards):
    # a chain's last step reads the checkpoint of the steps before it; methods that calibrate
    # read hub data that the login node prefetched
    needs_prefetch = PLAN.method(wildcards.variant).needs_calibration
    return {
        "model": PLAN.compress_source(wildcards.model, wildcards.variant),
        **({"prefetch": PLAN.prefetch_record} if needs_prefetch else {}),
    }


def step_input(wildcards):
    needs_prefetch = PLAN.step_method(wildcards.step).needs_calibration
    return {
        "model": PLAN.step_source(wildcards.model, wildcards.step),
        **({"prefetch": PLAN.prefetch_record} if needs_prefetch else {}),
    }


def step_spec(wildcards):
    return PLAN.step_spec(wildcards.step)
