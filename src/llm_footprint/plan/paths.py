"""Where every file of a study goes: results (logs included) under ``study.output_root``, models
and hub data under ``study.resources_root``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Paths:
    """Every file the workflow reads or writes, as patterns (wildcards as ``{model}`` ...) or,
    given ids, as paths."""

    results: str
    resources: str
    logs: str

    @classmethod
    def of(cls, config: dict[str, Any]) -> "Paths":
        """The paths of a study's config (its ``study`` section's roots)."""
        results = config["study"]["output_root"]
        return cls(results=results, resources=config["study"]["resources_root"],
                   logs=f"{results}/logs")

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
