"""What each job running a model asks for: threads, memory, runtime, the energy_exclusive
share, and its SLURM partition and GPU. Generic here, mapped to a cluster by profiles/slurm;
the estimates behind the runtimes are ``llm_footprint.cluster_estimates``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# the estimates (cluster_estimates), read below as cluster.<estimate>; the command line
# llm_footprint.cluster builds on the plan and is never imported here
from .. import cluster_estimates as cluster
from ..feasibility import model_facts
from ..study import Study
from .paths import Paths
from .selection import Selection
from .steps import Steps

# Energy measurements and other heavy jobs must not share a machine: a measurement takes the
# whole capacity, every other heavy job a share of it. The resource is scoped locally (see the
# Snakefile), so on a cluster it limits nothing across nodes; there, energy jobs ask for whole
# nodes (profiles/slurm).
ENERGY_EXCLUSIVE_CAPACITY = 100

# The rules that run models, and the setup each runs on (None: wherever the cluster puts it).
MODEL_RULES = ("compress", "compress_step", "evaluate", "measure_energy")
# rules that measure energy (one job per tuple: its replay and scenarios): each takes the
# whole energy_exclusive capacity
MEASURING_RULES = ("measure_energy",)
# The order in which one machine starts the ready model jobs: compression (the longest jobs)
# first, quality beside and after it, measurements last. A measurement needs the whole machine:
# started before the other jobs, it would leave a one-core quality job running alone after it
# (make demo runs the other model jobs on one core each, two at a time). Within a tier, the
# longest expected job first, so that the tier does not end on one long job running alone:
# the priority is the tier times PRIORITY_TIER_SPAN plus the job's expected minutes.
SCHEDULING_TIER = {"compress": 2, "compress_step": 2, "evaluate": 1, "measure_energy": 0}
PRIORITY_TIER_SPAN = 100_000


class JobResources:
    """The ``threads`` and ``resources`` of the rules running models, and the list of the jobs
    that ask for a compute node."""

    def __init__(self, study: Study, paths: Paths, selection: Selection, steps: Steps):
        self.study = study
        self.config = study.config
        self.paths = paths
        self.selection = selection
        self.steps = steps

    def threads(self, setup: str) -> int:
        return self.study.setup(setup)["cpus"]

    def mem_mb(self, setup: str, attempt: int = 1) -> int:
        # memory grows with each retry so that an out-of-memory kill is not repeated as is
        return int(self.study.setup(setup)["mem_gb"] * 1024 * (1 + 0.5 * (attempt - 1)))

    def slurm(self, setup: str | None) -> dict[str, Any]:
        """Partition and GPU request of a job on ``setup``; None: a CPU-only job in the default
        setup's partition (one the cluster is known to have)."""
        if setup is None:
            return {**cluster.slurm_resources(self.study.setup(self.study.default_setup)),
                    "gpu": 0, "gpu_model": ""}
        return cluster.slurm_resources(self.study.setup(setup))

    @property
    def gpus_per_setup(self) -> dict[str, int]:
        return {setup: int(self.slurm(setup)["gpu"] or 0) for setup in self.config["setups"]}

    # ---- runtime requests: the expected minutes plus the margin, times the attempt ----------

    def params_b(self, model: str) -> float:
        parameters, *_ = model_facts(model, self.study.model(model),
                                     Path(self.paths.model(model)))
        return cluster.params_b(self.study.model(model), parameters)

    def compress_minutes(self, model: str, variant: str, attempt: int = 1) -> int:
        expected = self.steps.method(variant).expected_minutes(self.params_b(model))
        return cluster.requested_minutes(expected, attempt)

    def compress_step_minutes(self, model: str, step: str, attempt: int = 1) -> int:
        expected = self.steps.step_method(step).expected_minutes(self.params_b(model))
        return cluster.requested_minutes(expected, attempt)

    def evaluate_minutes(self, model: str, attempt: int = 1, variant: str | None = None) -> int:
        return cluster.requested_minutes(self.evaluate_expected_minutes(model, variant), attempt)

    def evaluate_expected_minutes(self, model: str, variant: str | None = None) -> float:
        """A quality job's expected minutes; on a CPU setup, times the checkpoint's kernels'
        slowdown against the dense model (the method's cpu_inference_factor)."""
        minutes = cluster.evaluate_minutes(self.params_b(model))
        setup = self.study.setup(self.study.default_setup)
        if variant is not None and setup["device"] == "cpu":
            minutes *= self.steps.method(variant).cpu_inference_factor
        return minutes

    def energy_minutes(self, model: str, attempt: int = 1, case: str = "worst") -> int:
        """Runtime request of a tuple's measuring job (``case`` "expected": every precision
        target met at min_repeats)."""
        return cluster.requested_minutes(self.measurement_minutes(model, case), attempt)

    def measurement_minutes(self, model: str, case: str = "worst") -> float:
        """Minutes a tuple's measuring job takes, before the margin: the replay and scenarios."""
        return cluster.measurement_minutes(self.config["energy"], self.selection.scenarios,
                                           self.params_b(model), case)

    def measurement_parts(self, model: str) -> list[dict[str, Any]]:
        """Each measurement of a tuple's job, with its expected and worst-case minutes."""
        energy = self.config["energy"]
        parts = [{"measurement": "timed_replay",
                  **{case: cluster.energy_minutes(energy, case) for case in ("expected", "worst")}}]
        parts += [{"measurement": name,
                   **{case: cluster.scenario_minutes(energy, name, self.params_b(model), case)
                      for case in ("expected", "worst")}} for name in self.selection.scenarios]
        return parts

    def energy_window_minutes(self, case: str = "worst") -> float:
        return cluster.replay_window_minutes(self.config["energy"], case)

    # ---- per rule, as functions of a job's wildcards and attempt ---------------------------

    def job_setup(self, rule: str, wildcards: Any) -> str | None:
        """The setup a job of ``rule`` runs on, from its wildcards."""
        if rule in MEASURING_RULES:
            return wildcards.setup
        if rule == "compress":
            return self.steps.compress_setup(wildcards.variant)
        if rule == "compress_step":
            heavy = self.steps.step_method(wildcards.step).heavy
            return self.study.default_setup if heavy else None
        return self.study.default_setup

    def threads_of(self, rule: str) -> Any:
        """The ``threads`` of a rule running models, as a function of the wildcards."""
        def threads(wildcards: Any) -> int:
            setup = self.job_setup(rule, wildcards)
            return self.threads(setup) if setup else 1

        return threads

    def priority_of(self, rule: str) -> Any:
        """The Snakemake ``priority`` of a rule running models: its tier (SCHEDULING_TIER),
        then, as a function of the wildcards, the job's expected minutes (longest first)."""
        tier = SCHEDULING_TIER[rule] * PRIORITY_TIER_SPAN
        if rule in MEASURING_RULES:
            return tier

        def priority(wildcards: Any) -> float:
            return tier + min(self.expected_minutes(rule, wildcards), PRIORITY_TIER_SPAN - 1)

        return priority

    def expected_minutes(self, rule: str, wildcards: Any) -> float:
        """Expected minutes of a job of a rule running models, before any margin."""
        if rule == "compress":
            return self.steps.method(wildcards.variant).expected_minutes(
                self.params_b(wildcards.model))
        if rule == "compress_step":
            return self.steps.step_method(wildcards.step).expected_minutes(
                self.params_b(wildcards.model))
        if rule == "evaluate":
            return self.evaluate_expected_minutes(wildcards.model, wildcards.variant)
        raise ValueError(f"{rule!r} has no per-job estimate here (measurements: energy_minutes)")

    def resources(self, rule: str) -> dict[str, Any]:
        """The ``resources`` of a rule running models, as functions of wildcards and attempt."""
        if rule not in MODEL_RULES:
            raise ValueError(f"{rule!r} runs no model (rules: {', '.join(MODEL_RULES)})")

        def mem_mb(wildcards: Any, attempt: int) -> int:
            return self.mem_mb(self.job_setup(rule, wildcards) or self.study.default_setup,
                               attempt)

        def runtime(wildcards: Any, attempt: int) -> int:
            if rule in MEASURING_RULES:
                return self.energy_minutes(wildcards.model, attempt)
            return cluster.requested_minutes(self.expected_minutes(rule, wildcards), attempt)

        def energy_exclusive(wildcards: Any) -> int:
            if rule in MEASURING_RULES:
                return ENERGY_EXCLUSIVE_CAPACITY
            return 1 if self.job_setup(rule, wildcards) else 0

        def slurm(key: str) -> Any:
            def resource(wildcards: Any) -> Any:
                return self.slurm(self.job_setup(rule, wildcards))[key]

            return resource

        return {"mem_mb": mem_mb, "runtime": runtime, "energy_exclusive": energy_exclusive,
                **{key: slurm(key) for key in ("slurm_partition", "gpu", "gpu_model")}}

    def gpu_jobs(self) -> list[dict[str, Any]]:
        """Every job that asks for a compute node: rule, wildcards, setup, minutes, GPUs."""
        default = self.study.default_setup
        selection, steps = self.selection, self.steps
        jobs = [{"rule": "compress", "model": m, "variant": v, "setup": default,
                 "minutes": self.compress_minutes(m, v)}
                for m, v in selection.checkpoints if steps.method(v).heavy]
        jobs += [{"rule": "compress_step", "model": m, "variant": step, "setup": default,
                  "minutes": self.compress_step_minutes(m, step)}
                 for m, step in steps.steps_needed() if steps.step_method(step).heavy]
        jobs += [{"rule": "evaluate", "model": m, "variant": v, "setup": default,
                  "minutes": self.evaluate_minutes(m, variant=v)} for m, v in selection.evaluated]
        jobs += [{"rule": "measure_energy", "model": t.model, "variant": t.variant,
                  "setup": t.setup, "minutes": self.energy_minutes(t.model),
                  "window_minutes": self.energy_window_minutes(),
                  "expected_window_minutes": self.energy_window_minutes("expected"),
                  "expected_minutes": self.measurement_minutes(t.model, "expected"),
                  "measurements": self.measurement_parts(t.model)}
                 for t in selection.measured]
        for job in jobs:
            job["gpus"] = self.slurm(job["setup"])["gpu"]
            job.setdefault("window_minutes", None)
            job.setdefault("expected_window_minutes", None)
            job.setdefault("expected_minutes", None)
        return jobs
