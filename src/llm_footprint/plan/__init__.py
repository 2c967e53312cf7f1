"""The plan of a study: what runs, where its files go, and what each job is given.

A ``Plan`` is built from a validated ``Study``. The workflow's rules read only ``PLAN`` (the
plan of the study being run); everything here is plain Python, tested without Snakemake.
The plan itself is a thin front: each name the rules read is answered by one of its parts,
each a module of this package with one job:

- ``paths``: where every file goes (all under ``study.output_root``, logs included; models
  and hub data under ``study.resources_root``);
- ``selection``: the (model, variant, setup) tuples that run, those left out with the reason,
  and the stages that run on them;
- ``steps``: what each compress job applies and reads, a chain's intermediate checkpoints;
- ``targets``: the files the rules ask for, ``all_targets`` included;
- ``params``: each job's parameters (its slice of the config, canonical);
- ``job_resources``: each job's threads, memory, runtime and SLURM request.

Building a plan has no side effects: the SLURM partition check and the hub cache location are
separate, named calls (``check_cluster``, ``use_hf_cache``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .. import cluster_estimates
from ..feasibility import Estimate, study_estimates
from ..prefetch import plan as prefetch_plan
from ..study import Study, load_study
from .job_resources import ENERGY_EXCLUSIVE_CAPACITY, MEASURING_RULES, MODEL_RULES, JobResources
from .params import RUNTIME_SETUP_KEYS, JobParams, canonical
from .paths import Paths
from .selection import SCENARIOS, SELECTION_KEYS, LeftOut, Selection, Tuple, one_of, selection_problem
from .steps import Steps
from .targets import FIGURE_EXTENSIONS, Targets

__all__ = ["ENERGY_EXCLUSIVE_CAPACITY", "FIGURE_EXTENSIONS", "MEASURING_RULES", "MODEL_RULES",
           "RUNTIME_SETUP_KEYS", "SCENARIOS", "SELECTION_KEYS", "SKIP_PARTITION_CHECK_ENV",
           "LeftOut", "Paths", "Plan", "Tuple", "canonical", "one_of", "selection_problem"]

# Set to 1 to skip the SLURM partition check (e.g. a dry run on a machine outside the cluster).
SKIP_PARTITION_CHECK_ENV = "LLM_FOOTPRINT_SKIP_PARTITION_CHECK"


class _Part:
    """A name of the plan answered by one of its parts: ``Plan.<name>`` reads
    ``Plan.<part>.<name>``."""

    def __init__(self, part: str):
        self.part = part

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, plan: Any, owner: type | None = None) -> Any:
        if plan is None:
            return self
        return getattr(getattr(plan, self.part), self.name)

    def __repr__(self) -> str:
        return f"<Plan.{self.name}: Plan.{self.part}.{self.name}>"


class Plan:
    """The plan of one validated study (see the module docstring)."""

    def __init__(self, study: Study):
        self.study = study
        self.config = config = study.config
        self.paths = Paths.of(config)
        self.imported = study.imported
        # memory estimates decide, before anything is submitted, which tuples can run at all
        self.estimates: list[Estimate] = [] if self.imported else study_estimates(config)
        self.prefetch: dict[str, Any] = {} if self.imported else canonical(prefetch_plan(config))
        self.selection = Selection(study, self.estimates)
        self.steps = Steps(study, self.paths, self.selection)
        self.targets = Targets(study, self.paths, self.selection, self.steps)
        self.job_params = JobParams(study)
        self.job_resources = JobResources(study, self.paths, self.selection, self.steps)

    @classmethod
    def from_config(cls, config: dict[str, Any], schema_path: str | Path,
                    search_dirs: list[Path] | None = None) -> "Plan":
        return cls(load_study(config, schema_path, search_dirs=search_dirs))

    def wildcard_pattern(self, name: str) -> str:
        ids = {"model": self.study.reported_models(), "variant": self.study.variants,
               "setup": self.study.setups, "scenario": list(SCENARIOS),
               "step": list(self.steps.step_prefixes)}[name]
        return one_of(ids)

    # ---- which tuples run, and which stages (selection.py) -------------------------------
    tuples = _Part("selection")
    left_out = _Part("selection")
    infeasible = _Part("selection")
    excluded = _Part("selection")
    checkpoints = _Part("selection")
    models = _Part("selection")
    evaluated = _Part("selection")
    measured = _Part("selection")
    scenarios = _Part("selection")
    quality_measured = _Part("selection")
    needs_punkt = _Part("selection")
    energy_enabled = _Part("selection")
    describe = _Part("selection")

    # ---- what the compress jobs apply and read (steps.py) --------------------------------
    method = _Part("steps")
    final_step = _Part("steps")
    compress_spec = _Part("steps")
    compress_source = _Part("steps")
    compress_setup = _Part("steps")
    step_prefixes = _Part("steps")
    step_source = _Part("steps")
    step_spec = _Part("steps")
    step_method = _Part("steps")
    step_dirs = _Part("steps")

    # ---- targets (targets.py) ------------------------------------------------------------
    prefetch_record = _Part("targets")
    checkpoint_dirs = _Part("targets")
    prepared_models = _Part("targets")
    feasibility_inputs = _Part("targets")
    quality_files = _Part("targets")
    quality_table = _Part("targets")
    energy_dirs = _Part("targets")
    scenario_dirs = _Part("targets")
    scenario_tables = _Part("targets")
    scenario_outputs = _Part("targets")
    tradeoff_energy_table = _Part("targets")
    measurement_file = _Part("targets")
    figure_stems = _Part("targets")
    figure_files = _Part("targets")
    report_targets = _Part("targets")
    front_page = _Part("targets")
    report_front_page = _Part("targets")
    footprint_records = _Part("targets")
    compression_records = _Part("targets")
    summary_inputs = _Part("targets")
    replay_dirs = _Part("targets")
    all_targets = _Part("targets")

    # ---- job parameters (params.py) ------------------------------------------------------
    model_spec = _Part("job_params")
    variant_spec = _Part("job_params")
    runtime_setup = _Part("job_params")
    default_device = _Part("job_params")
    section = _Part("job_params")
    replay_params = _Part("job_params")
    scenario_params = _Part("job_params")
    measurement_params = _Part("job_params")
    schedule_params = _Part("job_params")
    feasibility_params = _Part("job_params")
    footprint_params = _Part("job_params")
    report_energy_figure = _Part("job_params")
    report_quality_metric = _Part("job_params")
    energy_estimate_note = _Part("job_params")

    # ---- resources: generic here, mapped to the cluster by profiles/slurm (job_resources.py)
    threads = _Part("job_resources")
    mem_mb = _Part("job_resources")
    slurm = _Part("job_resources")
    gpus_per_setup = _Part("job_resources")
    params_b = _Part("job_resources")
    compress_minutes = _Part("job_resources")
    compress_step_minutes = _Part("job_resources")
    evaluate_minutes = _Part("job_resources")
    energy_minutes = _Part("job_resources")
    measurement_minutes = _Part("job_resources")
    energy_window_minutes = _Part("job_resources")
    job_setup = _Part("job_resources")
    threads_of = _Part("job_resources")
    priority_of = _Part("job_resources")
    resources = _Part("job_resources")
    gpu_jobs = _Part("job_resources")

    # ---- the two calls with effects outside the plan -------------------------------------

    def check_cluster(self, environ: dict[str, str] | None = None) -> None:
        """On a SLURM cluster, a setup naming a partition the cluster lacks stops here, not at
        sbatch. Skipped with LLM_FOOTPRINT_SKIP_PARTITION_CHECK=1 (runs ``sinfo``)."""
        environ = os.environ if environ is None else environ
        if environ.get(SKIP_PARTITION_CHECK_ENV) == "1" or self.imported:
            return
        if any(self.study.setup(s)["partition"] for s in self.study.setups):
            cluster_estimates.check_partitions(self.config["setups"],
                                               cluster_estimates.cluster_partitions())

    def use_hf_cache(self, environ: dict[str, str] | None = None) -> str:
        """Hub downloads go to the project's cache unless the user keeps one of their own; jobs
        on compute nodes inherit the variable (the SLURM plugin submits with --export=ALL)."""
        environ = os.environ if environ is None else environ
        return environ.setdefault("HF_HOME", str(Path(self.paths.hf_cache).resolve()))
