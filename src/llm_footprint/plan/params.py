"""What each job is given as ``params``: its slice of the config, canonical (keys sorted), and
no more of it than it depends on, since Snakemake reruns a job whose params change."""

from __future__ import annotations

import json
from typing import Any

from ..study import Study
from .selection import SELECTION_KEYS

# What a job needs to know of a setup: embodied carbon or the partition do not change a
# measurement, so they are left out of job parameters (Snakemake reruns jobs whose params change).
RUNTIME_SETUP_KEYS = ("device", "gpu_model", "gpu_memory_gb", "cpus", "mem_gb")


def canonical(section: Any) -> Any:
    """A config section with its keys sorted: Snakemake reruns a job when the text of its
    params changes, and key order is not a change."""
    return json.loads(json.dumps(section, sort_keys=True))


class JobParams:
    """The jobs' parameters and the report's choices, from the study's config."""

    def __init__(self, study: Study):
        self.study = study
        self.config = study.config
        self.imported = study.imported

    def model_spec(self, model: str) -> dict[str, Any]:
        return canonical(self.study.model(model))

    def variant_spec(self, variant: str) -> dict[str, Any]:
        return canonical(self.study.variant(variant))

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
        """What one scenario depends on: the energy section with only its own scenario, and
        the perplexity text's settings for the perplexity workload."""
        energy = {k: v for k, v in self.config["energy"].items() if k != "scenarios"}
        energy["scenarios"] = {scenario: self.config["energy"]["scenarios"][scenario]}
        quality = {k: self.config["quality"][k] for k in ("perplexity", "tasks", "task_set")}
        return canonical({"energy": energy, "quality": quality})

    def measurement_params(self, scenarios: list[str]) -> dict[str, Any]:
        """What a tuple's measuring job depends on: the replay's settings and, with scenarios,
        theirs and the perplexity text's (a study without scenarios reruns no replay when its
        quality tasks change)."""
        if not scenarios:
            return {"energy": self.replay_params, "quality": None}
        energy = {k: v for k, v in self.config["energy"].items() if k != "scenarios"}
        energy["scenarios"] = {name: self.config["energy"]["scenarios"][name]
                               for name in scenarios}
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
    def footprint_params(self) -> dict[str, Any]:
        """The heavy jobs' own tracker: the footprint section with energy.tracker's country,
        mode and forced powers."""
        tracker = self.config["energy"]["tracker"]
        return canonical({**self.config["footprint"], "tracker": tracker,
                          "ram_correction_factor": tracker["ram_correction_factor"]})

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
