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


def _mem_mb(setup_id, attempt):
    # memory grows with each retry so that an out-of-memory kill is not repeated as is
    return int(STUDY.setup(setup_id)["mem_gb"] * 1024 * (1 + 0.5 * (attempt - 1)))


def default_setup_mem_mb(wildcards, attempt):
    return _mem_mb(STUDY.default_setup, attempt)


def setup_spec(wildcards):
    return STUDY.setup(wildcards.setup)


def setup_threads(wildcards):
    return STUDY.setup(wildcards.setup)["cpus"]


def setup_mem_mb(wildcards, attempt):
    return _mem_mb(wildcards.setup, attempt)


def energy_runtime_min(wildcards, attempt):
    energy = config["energy"]
    window_min = energy["schedule"]["duration_s"] * energy["repeats"] / 60
    idle_min = energy["idle_window_s"] / 60
    # loading, warm-up and CodeCarbon start-up on top of the replay itself
    return int((window_min * 1.1 + idle_min + 30) * attempt)


# Energy measurements and other heavy jobs must not share a machine: a measurement takes the
# whole capacity, every other heavy job a share of it. The resource is scoped locally (see
# the Snakefile), so on a cluster it limits nothing across nodes; there, energy jobs ask for
# whole nodes (profiles/slurm).
ENERGY_EXCLUSIVE_CAPACITY = 100
if "energy_exclusive" not in workflow.global_resources:
    workflow.register_resource("energy_exclusive", ENERGY_EXCLUSIVE_CAPACITY)


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


def energy_dirs():
    if not config["energy"]["enabled"]:
        return []
    return expand(
        f"{RESULTS}/energy/{{model}}/{{variant}}/{{setup}}",
        model=STUDY.models,
        variant=STUDY.variants,
        setup=STUDY.setups,
    )


def all_targets():
    # per-job outputs are listed themselves, not only through the tables: Snakemake does not
    # rebuild a deleted intermediate whose downstream files are still present
    return [
        *checkpoint_dirs(),
        f"{RESULTS}/tables/compression.csv",
        *quality_files(),
        f"{RESULTS}/tables/quality.csv",
        *energy_dirs(),
        *([f"{RESULTS}/tables/energy.csv"] if config["energy"]["enabled"] else []),
    ]
