# Shared by all rules files. Config validation, paths, resources and target lists.
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from llm_footprint.study import load_study

# Schema defaults are filled in and every semantic check runs here, at parse time: a bad
# config stops before any job starts, with the offending key named.
STUDY = load_study(
    config,
    Path(workflow.basedir) / "workflow/schemas/config.schema.yaml",
    search_dirs=[Path.cwd(), Path(workflow.basedir)],
)

RESULTS = config["study"]["output_root"]
RESOURCES = config["study"]["resources_root"]


def _one_of(ids):
    return "|".join(re.escape(i) for i in ids)


GPTQ_VARIANTS = [v for v in STUDY.variants if STUDY.variant(v)["method"] == "gptq"]
REFERENCE_VARIANTS = [v for v in STUDY.variants if STUDY.variant(v)["method"] == "none"]


# ---- parameters handed to the scripts -------------------------------------------------------


def model_spec(wildcards):
    return STUDY.model(wildcards.model)


def variant_spec(wildcards):
    return STUDY.variant(wildcards.variant)


def default_device(wildcards=None):
    return STUDY.setup(STUDY.default_setup)["device"]


# ---- resources: generic here, mapped to the cluster by profiles/slurm -----------------------


def default_setup_threads():
    return STUDY.setup(STUDY.default_setup)["cpus"]


def default_setup_mem_mb(wildcards, attempt):
    # memory grows with each retry so that an out-of-memory kill is not repeated as is
    return int(STUDY.setup(STUDY.default_setup)["mem_gb"] * 1024 * (1 + 0.5 * (attempt - 1)))


def runtime_min(base_min):
    """Runtime request in minutes that grows with each retry."""

    def runtime(wildcards, attempt):
        return base_min * attempt

    return runtime


# ---- targets --------------------------------------------------------------------------------


def checkpoint_dirs(models=None, variants=None):
    return expand(
        f"{RESULTS}/checkpoints/{{model}}/{{variant}}",
        model=models or STUDY.models,
        variant=variants or STUDY.variants,
    )


def quality_files():
    return expand(
        f"{RESULTS}/quality/{{model}}/{{variant}}.json",
        model=STUDY.models,
        variant=STUDY.variants,
    )


def all_targets():
    # per-job outputs are listed themselves, not only through the tables: Snakemake does not
    # rebuild a deleted intermediate whose downstream files are still present
    return [
        *checkpoint_dirs(),
        f"{RESULTS}/tables/compression.csv",
        *quality_files(),
        f"{RESULTS}/tables/quality.csv",
    ]
