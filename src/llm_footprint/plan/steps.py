"""What each compress job applies and reads: a variant's method, or its chain of steps
(``compression.chains``) with the intermediate checkpoint after each proper prefix of the
steps, shared between chains that start alike."""

from __future__ import annotations

from typing import Any

from .. import compression
from ..compression import chains
from ..study import Study
from .params import canonical
from .paths import Paths
from .selection import Selection


class Steps:
    """The compress and compress_step jobs' methods, specs and inputs."""

    def __init__(self, study: Study, paths: Paths, selection: Selection):
        self.study = study
        self.paths = paths
        self.selection = selection

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

    def compress_source(self, model: str, variant: str) -> str:
        """The input of the variant's compress job: the prepared model, or the checkpoint of
        its chain's steps before the last."""
        steps = chains.steps_of(self.study.variant(variant))
        if len(steps) == 1:
            return self.paths.model(model)
        return self.paths.step(model, chains.prefix_key(steps[:-1]))

    def compress_setup(self, variant: str) -> str | None:
        """Where a compression runs: the default setup; None for bookkeeping methods, which
        need no GPU."""
        return self.study.default_setup if self.method(variant).heavy else None

    # ---- the checkpoints after each prefix of a chain's steps -----------------------------

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

    def steps_needed(self) -> list[tuple[str, str]]:
        """(model, step key) of every intermediate checkpoint, once each."""
        needed = []
        for model, variant in self.selection.checkpoints:
            steps = chains.steps_of(self.study.variant(variant))
            needed += [(model, chains.prefix_key(steps[:end])) for end in range(1, len(steps))]
        return list(dict.fromkeys(needed))

    def step_dirs(self) -> list[str]:
        """Every intermediate checkpoint the study's chains need, once each."""
        return [self.paths.step(model, step) for model, step in self.steps_needed()]

    def step_records(self, model: str, variant: str) -> list[str]:
        """The footprint records of the compress_step jobs before the variant's compress job."""
        steps = chains.steps_of(self.study.variant(variant))
        return [self.paths.footprint("compress_step", model, chains.prefix_key(steps[:end]))
                for end in range(1, len(steps))]
