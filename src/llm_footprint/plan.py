"""The plan of a study: what runs, where its files go, and what each job is given.

A ``Plan`` is built from a validated ``Study`` and owns, in one place, the paths of every
result (all under ``study.output_root``, logs included; models and hub data under
``study.resources_root``), the (model, variant, setup) tuples that run and those left out
with the reason, the target lists, each job's parameters and resources, and the prefetch list.
The workflow's rules read only ``PLAN``; everything here is plain Python, tested without
Snakemake. Building a plan has no side effects: the SLURM partition check and the hub cache
location are separate, named calls (``check_cluster``, ``use_hf_cache``).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from . import cluster, compression
from .compression import chains
from .feasibility import Estimate, model_facts, study_estimates
from .prefetch import plan as prefetch_plan
from .quality.task_sets import resolve_tasks
from .study import Study, load_study

# Set to 1 to skip the SLURM partition check (e.g. a dry run on a machine outside the cluster).
SKIP_PARTITION_CHECK_ENV = "LLM_FOOTPRINT_SKIP_PARTITION_CHECK"

# What a job needs to know of a setup: embodied carbon or the partition do not change a
# measurement, so they are left out of job parameters (Snakemake reruns jobs whose params change).
RUNTIME_SETUP_KEYS = ("device", "gpu_model", "gpu_memory_gb", "cpus", "mem_gb")

# Keys of the `study` section that choose tuples; they change no estimate of feasibility.
SELECTION_KEYS = ("include", "exclude")

FIGURE_EXTENSIONS = ("png", "svg")

# Energy measurements and other heavy jobs must not share a machine: a measurement takes the
# whole capacity, every other heavy job a share of it. The resource is scoped locally (see the
# Snakefile), so on a cluster it limits nothing across nodes; there, energy jobs ask for whole
# nodes (profiles/slurm).
ENERGY_EXCLUSIVE_CAPACITY = 100

# The rules that run models, and the setup each runs on (None: wherever the cluster puts it).
MODEL_RULES = ("compress", "compress_step", "evaluate", "measure_energy", "measure_scenario")
# rules that measure energy: each takes the whole energy_exclusive capacity
MEASURING_RULES = ("measure_energy", "measure_scenario")
# energy scenarios beside the timed replay (llm_footprint.energy.scenarios), when configured
SCENARIOS = ("fixed_workload", "saturated")


def canonical(section: Any) -> Any:
    """A config section with its keys sorted: Snakemake reruns a job when the text of its
    params changes, and key order is not a change."""
    return json.loads(json.dumps(section, sort_keys=True))


def one_of(ids: list[str]) -> str:
    """A wildcard constraint matching exactly these ids (never anything when empty)."""
    return "|".join(re.escape(i) for i in ids) or "$^"


class Tuple(NamedTuple):
    model: str
    variant: str
    setup: str


@dataclass(frozen=True)
class LeftOut:
    """A tuple of the study's matrix that does not run, and why."""

    tuple: Tuple
    reason: str  # "excluded" or "infeasible"
    detail: str


@dataclass(frozen=True)
class Paths:
    """Every file the workflow reads or writes, as patterns (wildcards as ``{model}`` ...) or,
    given ids, as paths."""

    results: str
    resources: str
    logs: str

    def model(self, model: str = "{model}") -> str:
        return f"{self.resources}/models/{model}"

    def checkpoint(self, model: str = "{model}", variant: str = "{variant}") -> str:
        return f"{self.results}/checkpoints/{model}/{variant}"

    def quality(self, model: str = "{model}", variant: str = "{variant}") -> str:
        return f"{self.results}/quality/{model}/{variant}.json"

    def energy(self, model: str = "{model}", variant: str = "{variant}",
               setup: str = "{setup}") -> str:
        return f"{self.results}/energy/{model}/{variant}/{setup}"

    def step(self, model: str = "{model}", step: str = "{step}") -> str:
        """The checkpoint after a prefix of a chain's steps (compression.chains.prefix_key)."""
        return f"{self.results}/steps/{model}/{step}"

    def scenario(self, scenario: str = "{scenario}", model: str = "{model}",
                 variant: str = "{variant}", setup: str = "{setup}") -> str:
        return f"{self.results}/scenarios/{scenario}/{model}/{variant}/{setup}"

    @property
    def schedule(self) -> str:
        return f"{self.results}/energy/schedule.json"

    def footprint(self, rule: str, *wildcards: str) -> str:
        """A heavy job's own footprint record (llm_footprint.job_footprint)."""
        return "/".join((self.results, "footprint", rule, *wildcards)) + ".json"

    def table(self, name: str) -> str:
        return f"{self.results}/tables/{name}.csv"

    def figure(self, stem: str, extension: str) -> str:
        return f"{self.results}/figures/{stem}.{extension}"

    def prefetch(self, study_name: str) -> str:
        return f"{self.resources}/prefetch/{study_name}.json"

    @property
    def nltk_data(self) -> str:
        return f"{self.resources}/nltk_data"

    @property
    def hf_cache(self) -> str:
        return f"{self.resources}/hf_cache"

    def log(self, rule: str, *wildcards: str) -> str:
        """``logs/<rule>.log``, or ``logs/<rule>/<wildcard>/.../<last>.log``."""
        return f"{self.logs}/{rule}/{'/'.join(wildcards)}.log" if wildcards \
            else f"{self.logs}/{rule}.log"


def _matches(pattern: dict[str, str], chosen: Tuple) -> bool:
    return all(fnmatch.fnmatchcase(value, pattern.get(name, "*"))
               for name, value in chosen._asdict().items())


def selection_problem(study_section: dict[str, Any], chosen: Tuple) -> str | None:
    """Why ``study.include``/``study.exclude`` leave a tuple out, or None if they keep it."""
    include = study_section.get("include") or []
    if include and not any(_matches(p, chosen) for p in include):
        return "matches no pattern of study.include"
    for index, pattern in enumerate(study_section.get("exclude") or []):
        if _matches(pattern, chosen):
            return f"matches study.exclude[{index}]"
    return None


class Plan:
    """The plan of one validated study (see the module docstring)."""

    def __init__(self, study: Study):
        self.study = study
        self.config = config = study.config
        self.paths = Paths(results=config["study"]["output_root"],
                           resources=config["study"]["resources_root"],
                           logs=f"{config['study']['output_root']}/logs")
        self.imported = study.imported
        # memory estimates decide, before anything is submitted, which tuples can run at all
        self.estimates: list[Estimate] = [] if self.imported else study_estimates(config)
        self.tuples, self.left_out = self._choose_tuples()
        self.prefetch: dict[str, Any] = {} if self.imported else canonical(prefetch_plan(config))
        tasks = [] if self.imported else resolve_tasks(config["quality"])
        if self.imported:
            self.quality_measured = bool(config["measurements"]["quality"])
        else:
            self.quality_measured = bool(tasks) or config["quality"]["perplexity"]["enabled"]
        # IFEval's scorer needs NLTK's punkt tables; other studies do not build them
        self.needs_punkt = any(task["name"] == "ifeval" for task in tasks)
        self.energy_enabled = self.imported or config["energy"]["enabled"]

    @classmethod
    def from_config(cls, config: dict[str, Any], schema_path: str | Path,
                    search_dirs: list[Path] | None = None) -> "Plan":
        return cls(load_study(config, schema_path, search_dirs=search_dirs))

    # ---- which tuples run ----------------------------------------------------------------

    def _choose_tuples(self) -> tuple[list[Tuple], list[LeftOut]]:
        fits = {(e.model, e.variant, e.setup): e for e in self.estimates}
        running: list[Tuple] = []
        left_out: list[LeftOut] = []
        if self.imported:  # measured elsewhere: nothing runs here
            return running, left_out
        for model in self.study.models:
            for variant in self.study.variants:
                for setup in self.study.setups:
                    chosen = Tuple(model, variant, setup)
                    problem = selection_problem(self.config["study"], chosen)
                    estimate = fits.get(chosen)
                    if problem:
                        if estimate is not None and estimate.fits is False:
                            problem += " (and it would not fit)"
                        left_out.append(LeftOut(chosen, "excluded", problem))
                    elif estimate is not None and estimate.fits is False:
                        left_out.append(LeftOut(chosen, "infeasible", (
                            f"needs about {estimate.estimate_gb} GB, the device has "
                            f"{estimate.device_memory_gb} GB")))
                    else:
                        running.append(chosen)
        return running, left_out

    @property
    def infeasible(self) -> list[Tuple]:
        return [o.tuple for o in self.left_out if o.reason == "infeasible"]

    @property
    def excluded(self) -> list[Tuple]:
        return [o.tuple for o in self.left_out if o.reason == "excluded"]

    @property
    def checkpoints(self) -> list[tuple[str, str]]:
        """(model, variant) pairs compressed: those of a tuple that is not excluded."""
        kept = {(t.model, t.variant) for t in self.tuples}
        kept |= {(o.tuple.model, o.tuple.variant) for o in self.left_out if o.reason != "excluded"}
        return [(m, v) for m in self.study.models for v in self.study.variants if (m, v) in kept]

    @property
    def models(self) -> list[str]:
        """Models prepared: those with a checkpoint."""
        if self.imported:
            return []
        return list(dict.fromkeys(model for model, _ in self.checkpoints))

    @property
    def evaluated(self) -> list[tuple[str, str]]:
        """(model, variant) pairs whose quality is measured: on the default setup, so only
        where the default setup's tuple runs."""
        if self.imported or not self.quality_measured:
            return []
        default = self.study.default_setup
        return [(t.model, t.variant) for t in self.tuples if t.setup == default]

    @property
    def measured(self) -> list[Tuple]:
        """Tuples whose energy is measured."""
        if self.imported or not self.config["energy"]["enabled"]:
            return []
        return list(self.tuples)

    def wildcard_pattern(self, name: str) -> str:
        ids = {"model": self.study.reported_models(), "variant": self.study.variants,
               "setup": self.study.setups, "scenario": list(SCENARIOS),
               "step": list(self.step_prefixes)}[name]
        return one_of(ids)

    def describe(self) -> str:
        """What runs and what is left out, one line each, for people."""
        lines = [f"study {self.study.name}: {len(self.tuples)} tuples run, "
                 f"{len(self.left_out)} left out"]
        lines += [f"  left out ({o.reason}): {'/'.join(o.tuple)}: {o.detail}"
                  for o in self.left_out]
        return "\n".join(lines)

    # ---- targets -------------------------------------------------------------------------

    @property
    def prefetch_record(self) -> str:
        return self.paths.prefetch(self.study.name)

    def checkpoint_dirs(self) -> list[str]:
        return [self.paths.checkpoint(m, v) for m, v in self.checkpoints]

    def prepared_models(self) -> list[str]:
        return [self.paths.model(m) for m in self.models]

    def feasibility_inputs(self, wildcards: Any = None) -> dict[str, Any]:
        """The prepared models (exact architectures) and, when the energy stage runs or is
        imported, its table (the measured peak memory beside each estimate)."""
        inputs: dict[str, Any] = {"models": self.prepared_models()}
        if self.energy_enabled:
            inputs["energy"] = self.paths.table("energy")
        return inputs

    def quality_files(self) -> list[str]:
        return [self.paths.quality(m, v) for m, v in self.evaluated]

    def quality_table(self) -> list[str]:
        return [self.paths.table("quality")] if self.quality_measured else []

    def energy_dirs(self) -> list[str]:
        return [self.paths.energy(*t) for t in self.measured]

    @property
    def scenarios(self) -> list[str]:
        """The energy scenarios configured beside the timed replay."""
        if self.imported or not self.config["energy"]["enabled"]:
            return []
        configured = self.config["energy"]["scenarios"]
        return [name for name in SCENARIOS if configured.get(name)]

    def scenario_dirs(self, scenario: str) -> list[str]:
        return [self.paths.scenario(scenario, *t) for t in self.measured]

    def scenario_tables(self) -> list[str]:
        return [self.paths.table(name) for name in self.scenarios]

    @property
    def tradeoff_energy_table(self) -> str:
        """The table Tc and Ec come from: the replay's, or the named scenario's."""
        scenario = self.config["tradeoff"]["scenario"]
        return self.paths.table("energy" if scenario == "timed_replay" else scenario)

    def measurement_file(self, kind: str) -> str | list[str]:
        """The imported ``energy`` or ``quality`` file; [] when there is none."""
        return (self.config["measurements"] or {}).get(kind) or []

    def figure_stems(self) -> list[str]:
        stems = [f"carbon_bubbles_{model}" for model in self.study.reported_models()]
        stems += ["energy_components", "relative_change", "feasibility"]
        if self.quality_measured:
            stems.append("quality_vs_energy")
        if self.energy_enabled:  # the companion paper's figures read the trade-off tables
            stems += [f"paper_change_{model}" for model in self.study.reported_models()]
            stems.append("opt_scores")
        return stems

    def figure_files(self) -> list[str]:
        return [self.paths.figure(stem, ext) for stem in self.figure_stems()
                for ext in FIGURE_EXTENSIONS]

    def report_targets(self) -> list[str]:
        if not self.energy_enabled:
            return [self.paths.table("feasibility")]
        tables = ("energy", "carbon", "tradeoff", "relative_change", "feasibility", "summary",
                  "recommendation", *(() if self.imported else ("study_footprint",)))
        return [*(self.paths.table(name) for name in tables), *self.figure_files(),
                self.front_page]

    @property
    def front_page(self) -> str:
        """The report's front page, written from the study's tables (workflow/report/)."""
        return f"{self.paths.results}/report/front_page.rst"

    @property
    def footprint_params(self) -> dict[str, Any]:
        """The heavy jobs' own tracker: the footprint section with energy.tracker's country,
        mode and forced powers."""
        tracker = self.config["energy"]["tracker"]
        return canonical({**self.config["footprint"], "tracker": tracker,
                          "ram_correction_factor": tracker["ram_correction_factor"]})

    def footprint_records(self) -> list[str]:
        """Every heavy job's footprint record."""
        if self.imported:
            return []
        records = [self.paths.footprint("prepare_model", m) for m in self.models]
        records += [self.paths.footprint("compress", m, v) for m, v in self.checkpoints]
        records += [self.paths.footprint("compress_step", m, step)
                    for m, step in self._steps_needed()]
        records += [self.paths.footprint("evaluate", m, v) for m, v in self.evaluated]
        return records

    @property
    def compression_records(self) -> list[list[Any]]:
        """[model, variant, footprint records] of every compressed checkpoint: its chain's
        steps and its own compress job (their energies sum to what the variant cost)."""
        if self.imported:
            return []
        entries = []
        for model, variant in self.checkpoints:
            steps = chains.steps_of(self.study.variant(variant))
            records = [self.paths.footprint("compress_step", model, chains.prefix_key(steps[:end]))
                       for end in range(1, len(steps))]
            entries.append([model, variant,
                            [*records, self.paths.footprint("compress", model, variant)]])
        return entries

    @property
    def gpus_per_setup(self) -> dict[str, int]:
        return {setup: int(self.slurm(setup)["gpu"] or 0) for setup in self.config["setups"]}

    def report_front_page(self, basedir: str | Path) -> str:
        """The report directive's page: the generated front page when it exists (absolute,
        since Snakemake resolves the directive against the Snakefile's folder), else the
        static introduction."""
        page = Path(self.front_page)
        if self.energy_enabled and page.is_file():
            return str(page.resolve())
        return "workflow/report/workflow.rst"

    def summary_inputs(self, wildcards: Any = None) -> dict[str, Any]:
        """Every table the study summary reads, and the replay folders (their requests)."""
        inputs: dict[str, Any] = {
            "energy": self.paths.table("energy"), "carbon": self.paths.table("carbon"),
            "tradeoff": self.paths.table("tradeoff"), "quality": self.quality_table(),
            "scenarios": self.scenario_tables(), "replays": self.energy_dirs(),
            "footprints": self.footprint_records(),
        }
        if not self.imported:
            inputs["compression"] = self.paths.table("compression")
        return inputs

    @property
    def replay_dirs(self) -> list[list[str]]:
        """[model, variant, setup, folder] of every replay, for the summary's pooled latency."""
        return [[*t, self.paths.energy(*t)] for t in self.measured] if not self.imported else []

    def all_targets(self) -> list[str]:
        # per-job outputs are listed themselves, not only through the tables: Snakemake does
        # not rebuild a deleted intermediate whose downstream files are still present
        if self.imported:
            return [*self.quality_table(), *self.report_targets()]
        scenario_dirs = [d for name in self.scenarios for d in self.scenario_dirs(name)]
        return [*self.checkpoint_dirs(), self.paths.table("compression"), *self.quality_files(),
                *self.quality_table(), *self.energy_dirs(), *scenario_dirs,
                *self.scenario_tables(), *self.report_targets()]

    # ---- job parameters ------------------------------------------------------------------

    def model_spec(self, model: str) -> dict[str, Any]:
        return canonical(self.study.model(model))

    def variant_spec(self, variant: str) -> dict[str, Any]:
        return canonical(self.study.variant(variant))

    def method(self, variant: str) -> compression.Method:
        """The method that writes the variant's checkpoint (a chain's last step)."""
        return compression.method(self.final_step(variant)["method"])

    def final_step(self, variant: str) -> dict[str, Any]:
        return chains.steps_of(self.study.variant(variant))[-1]

    def compress_spec(self, variant: str) -> dict[str, Any]:
        """What the compress job applies: the variant, or its chain's last step together with
        the chain's methods and steps (recorded in its summary and provenance)."""
        spec = self.study.variant(variant)
        if spec["method"] != chains.CHAIN:
            return canonical(spec)
        return canonical({**spec["steps"][-1], "chain": [s["method"] for s in spec["steps"]],
                          "chain_steps": spec["steps"]})

    # ---- chains: the checkpoints after each prefix of a chain's steps ---------------------

    @property
    def step_prefixes(self) -> dict[str, list[dict[str, Any]]]:
        """Key -> steps of every proper prefix of every chain (shared prefixes once)."""
        prefixes: dict[str, list[dict[str, Any]]] = {}
        for variant in self.study.variants:
            steps = chains.steps_of(self.study.variant(variant))
            for end in range(1, len(steps)):
                prefixes[chains.prefix_key(steps[:end])] = steps[:end]
        return prefixes

    def step_source(self, model: str, step: str) -> str:
        """The input of the prefix's last step: the prepared model or the shorter prefix."""
        steps = self.step_prefixes[step]
        if len(steps) == 1:
            return self.paths.model(model)
        return self.paths.step(model, chains.prefix_key(steps[:-1]))

    def step_spec(self, step: str) -> dict[str, Any]:
        return canonical(self.step_prefixes[step][-1])

    def step_method(self, step: str) -> compression.Method:
        return compression.method(self.step_prefixes[step][-1]["method"])

    def compress_source(self, model: str, variant: str) -> str:
        """The input of the variant's compress job: the prepared model, or the checkpoint of
        its chain's steps before the last."""
        steps = chains.steps_of(self.study.variant(variant))
        if len(steps) == 1:
            return self.paths.model(model)
        return self.paths.step(model, chains.prefix_key(steps[:-1]))

    def _steps_needed(self) -> list[tuple[str, str]]:
        """(model, step key) of every intermediate checkpoint, once each."""
        needed = []
        for model, variant in self.checkpoints:
            steps = chains.steps_of(self.study.variant(variant))
            needed += [(model, chains.prefix_key(steps[:end])) for end in range(1, len(steps))]
        return list(dict.fromkeys(needed))

    def step_dirs(self) -> list[str]:
        """Every intermediate checkpoint the study's chains need, once each."""
        return [self.paths.step(model, step) for model, step in self._steps_needed()]

    def runtime_setup(self, setup: str) -> dict[str, Any]:
        return canonical({k: self.study.setup(setup)[k] for k in RUNTIME_SETUP_KEYS})

    @property
    def default_device(self) -> str:
        return self.study.setup(self.study.default_setup)["device"]

    def section(self, name: str) -> Any:
        return canonical(self.config[name])

    @property
    def replay_params(self) -> dict[str, Any]:
        # the scenarios do not change a replay: adding one reruns no replay
        return canonical({k: v for k, v in self.config["energy"].items() if k != "scenarios"})

    def scenario_params(self, scenario: str) -> dict[str, Any]:
        """What a scenario job depends on: the energy section with only its own scenario, and
        the perplexity text's settings for the perplexity workload."""
        energy = {k: v for k, v in self.config["energy"].items() if k != "scenarios"}
        energy["scenarios"] = {scenario: self.config["energy"]["scenarios"][scenario]}
        quality = {k: self.config["quality"][k] for k in ("perplexity", "tasks", "task_set")}
        return canonical({"energy": energy, "quality": quality})

    @property
    def schedule_params(self) -> dict[str, Any]:
        # only what the schedule is made of, so that e.g. more repeats reuse it
        return canonical({k: self.config["energy"][k] for k in ("prompts", "schedule")})

    @property
    def feasibility_params(self) -> dict[str, Any]:
        sections = {k: self.config[k] for k in ("models", "variants", "setups", "feasibility")}
        study = {k: v for k, v in self.config["study"].items() if k not in SELECTION_KEYS}
        return canonical({"study": study, **sections})

    @property
    def report_energy_figure(self) -> str:
        """The energy axis of the quality-vs-energy figure: report.energy_figure, else the
        hardware energy per output token (imported measurements: the trade-off's figure)."""
        if self.config["report"]["energy_figure"]:
            return self.config["report"]["energy_figure"]
        # per unit of work: a replay window is mostly idle and hides the differences
        return (self.config["tradeoff"]["energy_figure"] if self.imported
                else "hardware_energy_per_output_token_j")

    @property
    def report_quality_metric(self) -> dict[str, str]:
        chosen = self.config["report"]["quality_metric"] or next(
            iter(self.config["tradeoff"]["metrics"]), None)
        if chosen is None:
            return {"task": "perplexity", "metric": "token_perplexity"}
        return {"task": chosen["task"], "metric": chosen["metric"]}

    @property
    def energy_estimate_note(self) -> str | None:
        """Why the study's energy figures are estimates rather than readings, or None: power
        fixed in the tracker settings makes energy power x time."""
        if self.imported:
            return None
        tracker = self.config["energy"]["tracker"]
        fixed = [f"{part} power fixed at {tracker[key]:g} W (energy.tracker.{key})"
                 for part, key in (("CPU", "force_cpu_power_w"), ("RAM", "force_ram_power_w"))
                 if tracker.get(key) is not None]
        return "; ".join(fixed) + ": energy = power x time" if fixed else None

    # ---- resources: generic here, mapped to the cluster by profiles/slurm ----------------

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

    def params_b(self, model: str) -> float:
        parameters, *_ = model_facts(model, self.study.model(model),
                                     Path(self.paths.model(model)))
        return cluster.params_b(self.study.model(model), parameters)

    def compress_setup(self, variant: str) -> str | None:
        """Where a compression runs: the default setup; None for bookkeeping methods, which
        need no GPU."""
        return self.study.default_setup if self.method(variant).heavy else None

    def compress_minutes(self, model: str, variant: str, attempt: int = 1) -> int:
        expected = self.method(variant).expected_minutes(self.params_b(model))
        return cluster.requested_minutes(expected, attempt)

    def evaluate_minutes(self, model: str, attempt: int = 1) -> int:
        return cluster.requested_minutes(cluster.evaluate_minutes(self.params_b(model)), attempt)

    def energy_minutes(self, attempt: int = 1) -> int:
        return cluster.requested_minutes(cluster.energy_minutes(self.config["energy"]), attempt)

    def scenario_minutes(self, scenario: str, model: str, attempt: int = 1) -> int:
        return cluster.requested_minutes(
            cluster.scenario_minutes(self.config["energy"], scenario, self.params_b(model)),
            attempt)

    def energy_window_minutes(self) -> float:
        energy = self.config["energy"]
        return energy["schedule"]["duration_s"] * energy["repeats"] / 60

    def job_setup(self, rule: str, wildcards: Any) -> str | None:
        """The setup a job of ``rule`` runs on, from its wildcards."""
        if rule in MEASURING_RULES:
            return wildcards.setup
        if rule == "compress":
            return self.compress_setup(wildcards.variant)
        if rule == "compress_step":
            return self.study.default_setup if self.step_method(wildcards.step).heavy else None
        return self.study.default_setup

    def threads_of(self, rule: str) -> Any:
        """The ``threads`` of a rule running models, as a function of the wildcards."""
        def threads(wildcards: Any) -> int:
            setup = self.job_setup(rule, wildcards)
            return self.threads(setup) if setup else 1

        return threads

    def resources(self, rule: str) -> dict[str, Any]:
        """The ``resources`` of a rule running models, as functions of wildcards and attempt."""
        if rule not in MODEL_RULES:
            raise ValueError(f"{rule!r} runs no model (rules: {', '.join(MODEL_RULES)})")

        def mem_mb(wildcards: Any, attempt: int) -> int:
            return self.mem_mb(self.job_setup(rule, wildcards) or self.study.default_setup,
                               attempt)

        def runtime(wildcards: Any, attempt: int) -> int:
            if rule == "compress":
                return self.compress_minutes(wildcards.model, wildcards.variant, attempt)
            if rule == "compress_step":
                return cluster.requested_minutes(self.step_method(wildcards.step).expected_minutes(
                    self.params_b(wildcards.model)), attempt)
            if rule == "evaluate":
                return self.evaluate_minutes(wildcards.model, attempt)
            if rule == "measure_scenario":
                return self.scenario_minutes(wildcards.scenario, wildcards.model, attempt)
            return self.energy_minutes(attempt)

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
        jobs = [{"rule": "compress", "model": m, "variant": v, "setup": default,
                 "minutes": self.compress_minutes(m, v)}
                for m, v in self.checkpoints if self.method(v).heavy]
        jobs += [{"rule": "compress_step", "model": m, "variant": step, "setup": default,
                  "minutes": cluster.requested_minutes(
                      self.step_method(step).expected_minutes(self.params_b(m)))}
                 for m, step in self._steps_needed() if self.step_method(step).heavy]
        jobs += [{"rule": "evaluate", "model": m, "variant": v, "setup": default,
                  "minutes": self.evaluate_minutes(m)} for m, v in self.evaluated]
        jobs += [{"rule": "measure_energy", "model": t.model, "variant": t.variant,
                  "setup": t.setup, "minutes": self.energy_minutes(),
                  "window_minutes": self.energy_window_minutes()} for t in self.measured]
        jobs += [{"rule": "measure_scenario", "scenario": name, "model": t.model,
                  "variant": t.variant, "setup": t.setup,
                  "minutes": self.scenario_minutes(name, t.model)}
                 for name in self.scenarios for t in self.measured]
        for job in jobs:
            job["gpus"] = self.slurm(job["setup"])["gpu"]
            job.setdefault("window_minutes", None)
        return jobs

    # ---- the two calls with effects outside the plan -------------------------------------

    def check_cluster(self, environ: dict[str, str] | None = None) -> None:
        """On a SLURM cluster, a setup naming a partition the cluster lacks stops here, not at
        sbatch. Skipped with LLM_FOOTPRINT_SKIP_PARTITION_CHECK=1 (runs ``sinfo``)."""
        environ = os.environ if environ is None else environ
        if environ.get(SKIP_PARTITION_CHECK_ENV) == "1" or self.imported:
            return
        if any(self.study.setup(s)["partition"] for s in self.study.setups):
            cluster.check_partitions(self.config["setups"], cluster.cluster_partitions())

    def use_hf_cache(self, environ: dict[str, str] | None = None) -> str:
        """Hub downloads go to the project's cache unless the user keeps one of their own; jobs
        on compute nodes inherit the variable (the SLURM plugin submits with --export=ALL)."""
        environ = os.environ if environ is None else environ
        return environ.setdefault("HF_HOME", str(Path(self.paths.hf_cache).resolve()))
