# Shared by all rules files. Config validation, paths, resources and target lists.
import json
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from llm_footprint import cluster
from llm_footprint.feasibility import model_facts, study_estimates
from llm_footprint.prefetch import plan as prefetch_plan
from llm_footprint.quality.task_sets import resolve_tasks
from llm_footprint.study import load_study

# Schema defaults are filled in and every semantic check runs here, at parse time: a bad
# config stops before any job starts, with the offending key named.
STUDY = load_study(
    config,
    Path(workflow.basedir) / "workflow/schemas/config.schema.yaml",
    search_dirs=[Path.cwd(), Path(workflow.basedir)],
)

# On a SLURM cluster, a setup naming a partition the cluster lacks stops here, not at sbatch.
if not STUDY.imported and any(STUDY.setup(s)["partition"] for s in STUDY.setups):
    cluster.check_partitions(config["setups"], cluster.cluster_partitions())

RESULTS = config["study"]["output_root"]
RESOURCES = config["study"]["resources_root"]

# Hub downloads go to the project's cache unless the user keeps one of their own; jobs on
# compute nodes inherit the variable (the SLURM plugin submits with --export=ALL).
os.environ.setdefault("HF_HOME", str(Path(RESOURCES, "hf_cache").resolve()))


def _one_of(ids):
    return "|".join(re.escape(i) for i in ids)


GPTQ_VARIANTS = [v for v in STUDY.variants if STUDY.variant(v)["method"] == "gptq"]
REFERENCE_VARIANTS = [v for v in STUDY.variants if STUDY.variant(v)["method"] == "none"]

# Memory estimates decide, before anything is submitted, which tuples can run at all.
FEASIBILITY = study_estimates(config)
DOES_NOT_FIT = {(e.model, e.variant, e.setup) for e in FEASIBILITY if e.fits is False}


def fits(model, variant, setup):
    return (model, variant, setup) not in DOES_NOT_FIT


PREFETCH_PLAN = {} if STUDY.imported else prefetch_plan(config)
PREFETCH = f"{RESOURCES}/prefetch/{STUDY.name}.json"

if STUDY.imported:
    QUALITY_MEASURED = bool(config["measurements"]["quality"])
else:
    QUALITY_MEASURED = bool(resolve_tasks(config["quality"])) or config["quality"][
        "perplexity"
    ]["enabled"]

# IFEval's scorer needs NLTK's punkt tables; other studies do not build them
NEEDS_PUNKT = not STUDY.imported and any(
    task["name"] == "ifeval" for task in resolve_tasks(config["quality"])
)
NLTK_DATA = f"{RESOURCES}/nltk_data" if NEEDS_PUNKT else []


# ---- parameters handed to the scripts -------------------------------------------------------


def canonical(section):
    """A config section with its keys sorted: Snakemake reruns a job when the text of its
    params changes, and key order is not a change."""
    return json.loads(json.dumps(section, sort_keys=True))


def model_spec(wildcards):
    return canonical(STUDY.model(wildcards.model))


def variant_spec(wildcards):
    return canonical(STUDY.variant(wildcards.variant))


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


# What a job needs to know of a setup: embodied carbon or the partition do not change a
# measurement, so they are left out of job parameters (Snakemake reruns jobs whose params change).
RUNTIME_SETUP_KEYS = ("device", "gpu_model", "gpu_memory_gb", "cpus", "mem_gb")


def runtime_setup(setup_id):
    return canonical({k: STUDY.setup(setup_id)[k] for k in RUNTIME_SETUP_KEYS})


def setup_spec(wildcards):
    return runtime_setup(wildcards.setup)


def setup_threads(wildcards):
    return STUDY.setup(wildcards.setup)["cpus"]


def setup_mem_mb(wildcards, attempt):
    return _mem_mb(wildcards.setup, attempt)


def energy_runtime_min(wildcards, attempt):
    # the replay windows, plus loading, warm-up and CodeCarbon start-up
    return cluster.energy_minutes(config["energy"], attempt)


def _params_b(model_id):
    parameters, *_ = model_facts(
        model_id, STUDY.model(model_id), Path(RESOURCES) / "models" / model_id
    )
    return cluster.params_b(STUDY.model(model_id), parameters)


def compress_runtime_min(wildcards, attempt):
    return cluster.runtime_minutes("compress", _params_b(wildcards.model), attempt)


def evaluate_runtime_min(wildcards, attempt):
    return cluster.runtime_minutes("evaluate", _params_b(wildcards.model), attempt)


# SLURM partition and GPU request (executor-plugin resource names) of the setup a job runs on;
# empty values leave the cluster's defaults, and local runs ignore them.
def default_setup_slurm(key):
    return cluster.slurm_resources(STUDY.setup(STUDY.default_setup))[key]


def setup_slurm(key):
    def resource(wildcards):
        return cluster.slurm_resources(STUDY.setup(wildcards.setup))[key]

    return resource


# Energy measurements and other heavy jobs must not share a machine: a measurement takes the
# whole capacity, every other heavy job a share of it. The resource is scoped locally (see
# the Snakefile), so on a cluster it limits nothing across nodes; there, energy jobs ask for
# whole nodes (profiles/slurm).
ENERGY_EXCLUSIVE_CAPACITY = 100
if "energy_exclusive" not in workflow.global_resources:
    workflow.register_resource("energy_exclusive", ENERGY_EXCLUSIVE_CAPACITY)


# ---- targets --------------------------------------------------------------------------------


def prepared_models():
    if STUDY.imported:
        return []
    return [f"{RESOURCES}/models/{model}" for model in STUDY.models]


def checkpoint_dirs(models=None, variants=None):
    return expand(
        f"{RESULTS}/checkpoints/{{model}}/{{variant}}",
        model=models or STUDY.models,
        variant=variants or STUDY.variants,
    )


def quality_files():
    if STUDY.imported or not QUALITY_MEASURED:
        return []
    return [
        f"{RESULTS}/quality/{model}/{variant}.json"
        for model in STUDY.models
        for variant in STUDY.variants
        if fits(model, variant, STUDY.default_setup)
    ]


def quality_table():
    return [f"{RESULTS}/tables/quality.csv"] if QUALITY_MEASURED else []


def energy_dirs():
    if STUDY.imported or not config["energy"]["enabled"]:
        return []
    return [
        f"{RESULTS}/energy/{model}/{variant}/{setup}"
        for model in STUDY.models
        for variant in STUDY.variants
        for setup in STUDY.setups
        if fits(model, variant, setup)
    ]


def figure_files():
    stems = [f"carbon_bubbles_{model}" for model in STUDY.reported_models()]
    stems += ["energy_components", "relative_change", "feasibility"]
    if QUALITY_MEASURED:
        stems.append("quality_vs_energy")
    return [f"{RESULTS}/figures/{stem}.{ext}" for stem in stems for ext in ("png", "svg")]


def report_quality_metric():
    chosen = config["report"]["quality_metric"] or next(iter(config["tradeoff"]["metrics"]), None)
    if chosen is None:
        return {"task": "perplexity", "metric": "token_perplexity"}
    return {"task": chosen["task"], "metric": chosen["metric"]}


def energy_stage_enabled():
    return STUDY.imported or config["energy"]["enabled"]


def report_targets():
    if not energy_stage_enabled():
        return [f"{RESULTS}/tables/feasibility.csv"]
    return [
        f"{RESULTS}/tables/energy.csv",
        f"{RESULTS}/tables/carbon.csv",
        f"{RESULTS}/tables/tradeoff.csv",
        f"{RESULTS}/tables/relative_change.csv",
        f"{RESULTS}/tables/feasibility.csv",
        *figure_files(),
    ]


def all_targets():
    # per-job outputs are listed themselves, not only through the tables: Snakemake does not
    # rebuild a deleted intermediate whose downstream files are still present
    if STUDY.imported:
        return [*quality_table(), *report_targets()]
    return [
        *checkpoint_dirs(),
        f"{RESULTS}/tables/compression.csv",
        *quality_files(),
        *quality_table(),
        *energy_dirs(),
        *report_targets(),
    ]
