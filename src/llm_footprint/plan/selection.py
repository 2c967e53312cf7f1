"""What a study runs: the (model, variant, setup) tuples of its matrix that run and those left
out with the reason (``study.include``/``study.exclude``, or a memory estimate that does not
fit), and which stages run on them."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..feasibility import Estimate
from ..quality.task_sets import resolve_tasks
from ..study import Study

# Keys of the `study` section that choose tuples; they change no estimate of feasibility.
SELECTION_KEYS = ("include", "exclude")

# energy scenarios beside the timed replay (llm_footprint.energy.scenarios), when configured
SCENARIOS = ("fixed_workload", "saturated")


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


def choose_tuples(study: Study, estimates: list[Estimate]) -> tuple[list[Tuple], list[LeftOut]]:
    """The tuples that run and those left out: excluded by the study's patterns, or infeasible
    by their memory estimate. An imported study runs none."""
    fits = {(e.model, e.variant, e.setup): e for e in estimates}
    running: list[Tuple] = []
    left_out: list[LeftOut] = []
    if study.imported:  # measured elsewhere: nothing runs here
        return running, left_out
    for model in study.models:
        for variant in study.variants:
            for setup in study.setups:
                chosen = Tuple(model, variant, setup)
                problem = selection_problem(study.config["study"], chosen)
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


class Selection:
    """The tuples that run, the stages that run on them, and what each stage works on."""

    def __init__(self, study: Study, estimates: list[Estimate]):
        self.study = study
        self.config = config = study.config
        self.imported = study.imported
        self.tuples, self.left_out = choose_tuples(study, estimates)
        tasks = [] if self.imported else resolve_tasks(config["quality"])
        if self.imported:
            self.quality_measured = bool(config["measurements"]["quality"])
        else:
            self.quality_measured = bool(tasks) or config["quality"]["perplexity"]["enabled"]
        # IFEval's scorer needs NLTK's punkt tables; other studies do not build them
        self.needs_punkt = any(task["name"] == "ifeval" for task in tasks)
        self.energy_enabled = self.imported or config["energy"]["enabled"]

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

    @property
    def scenarios(self) -> list[str]:
        """The energy scenarios configured beside the timed replay."""
        if self.imported or not self.config["energy"]["enabled"]:
            return []
        configured = self.config["energy"]["scenarios"]
        return [name for name in SCENARIOS if configured.get(name)]

    def describe(self) -> str:
        """What runs and what is left out, one line each, for people."""
        lines = [f"study {self.study.name}: {len(self.tuples)} tuples run, "
                 f"{len(self.left_out)} left out"]
        lines += [f"  left out ({o.reason}): {'/'.join(o.tuple)}: {o.detail}"
                  for o in self.left_out]
        return "\n".join(lines)
