"""The files the rules ask for: each stage's outputs for the tuples that run, the tables,
figures and front page of the report, the heavy jobs' footprint records, and ``all_targets``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..study import Study
from .paths import Paths
from .selection import Selection
from .steps import Steps

FIGURE_EXTENSIONS = ("png", "svg")


class Targets:
    """Input and output lists of the rules, from what runs (``Selection``) and where it goes
    (``Paths``)."""

    def __init__(self, study: Study, paths: Paths, selection: Selection, steps: Steps):
        self.study = study
        self.config = study.config
        self.imported = study.imported
        self.paths = paths
        self.selection = selection
        self.steps = steps

    @property
    def prefetch_record(self) -> str:
        return self.paths.prefetch(self.study.name)

    def checkpoint_dirs(self) -> list[str]:
        return [self.paths.checkpoint(m, v) for m, v in self.selection.checkpoints]

    def prepared_models(self) -> list[str]:
        return [self.paths.model(m) for m in self.selection.models]

    def feasibility_inputs(self, wildcards: Any = None) -> dict[str, Any]:
        """The prepared models (exact architectures) and, when the energy stage runs or is
        imported, its table (the measured peak memory beside each estimate)."""
        inputs: dict[str, Any] = {"models": self.prepared_models()}
        if self.selection.energy_enabled:
            inputs["energy"] = self.paths.table("energy")
        return inputs

    def quality_files(self) -> list[str]:
        return [self.paths.quality(m, v) for m, v in self.selection.evaluated]

    def quality_table(self) -> list[str]:
        return [self.paths.table("quality")] if self.selection.quality_measured else []

    def energy_dirs(self) -> list[str]:
        return [self.paths.energy(*t) for t in self.selection.measured]

    def scenario_dirs(self, scenario: str) -> list[str]:
        return [self.paths.scenario(scenario, *t) for t in self.selection.measured]

    def scenario_outputs(self) -> dict[str, str]:
        """Scenario name -> its folder's pattern: outputs of the tuple's measuring job."""
        return {name: self.paths.scenario(name) for name in self.selection.scenarios}

    def scenario_tables(self) -> list[str]:
        return [self.paths.table(name) for name in self.selection.scenarios]

    @property
    def tradeoff_energy_table(self) -> str:
        """The table Tc and Ec come from: the replay's, or the named scenario's."""
        scenario = self.config["tradeoff"]["scenario"]
        return self.paths.table("energy" if scenario == "timed_replay" else scenario)

    def measurement_file(self, kind: str) -> str | list[str]:
        """The imported ``energy`` or ``quality`` file; [] when there is none."""
        return (self.config["measurements"] or {}).get(kind) or []

    # ---- the report ------------------------------------------------------------------------

    def figure_stems(self) -> list[str]:
        stems = [f"carbon_bubbles_{model}" for model in self.study.reported_models()]
        stems += ["energy_components", "relative_change", "feasibility"]
        if self.selection.quality_measured:
            stems.append("quality_vs_energy")
        if self.selection.energy_enabled:  # the companion paper's figures read the trade-off
            stems += [f"paper_change_{model}" for model in self.study.reported_models()]
            stems.append("opt_scores")
        return stems

    def figure_files(self) -> list[str]:
        return [self.paths.figure(stem, ext) for stem in self.figure_stems()
                for ext in FIGURE_EXTENSIONS]

    def report_targets(self) -> list[str]:
        if not self.selection.energy_enabled:
            return [self.paths.table("feasibility")]
        tables = ("energy", "carbon", "tradeoff", "relative_change", "feasibility", "summary",
                  "recommendation", *(() if self.imported else ("study_footprint",)))
        return [*(self.paths.table(name) for name in tables), *self.figure_files(),
                self.front_page]

    @property
    def front_page(self) -> str:
        """The report's front page, written from the study's tables (workflow/report/)."""
        return f"{self.paths.results}/report/front_page.rst"

    def report_front_page(self, basedir: str | Path) -> str:
        """The report directive's page: the generated front page when it exists (absolute,
        since Snakemake resolves the directive against the Snakefile's folder), else the
        static introduction."""
        page = Path(self.front_page)
        if self.selection.energy_enabled and page.is_file():
            return str(page.resolve())
        return "workflow/report/workflow.rst"

    # ---- the heavy jobs' own footprint, and the study summary ------------------------------

    def footprint_records(self) -> list[str]:
        """Every heavy job's footprint record."""
        if self.imported:
            return []
        selection = self.selection
        records = [self.paths.footprint("prepare_model", m) for m in selection.models]
        records += [self.paths.footprint("compress", m, v) for m, v in selection.checkpoints]
        records += [self.paths.footprint("compress_step", m, step)
                    for m, step in self.steps.steps_needed()]
        records += [self.paths.footprint("evaluate", m, v) for m, v in selection.evaluated]
        return records

    @property
    def compression_records(self) -> list[list[Any]]:
        """[model, variant, footprint records] of every compressed checkpoint: its chain's
        steps and its own compress job (their energies sum to what the variant cost)."""
        if self.imported:
            return []
        return [[model, variant, [*self.steps.step_records(model, variant),
                                  self.paths.footprint("compress", model, variant)]]
                for model, variant in self.selection.checkpoints]

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
        if self.imported:
            return []
        return [[*t, self.paths.energy(*t)] for t in self.selection.measured]

    def all_targets(self) -> list[str]:
        # per-job outputs are listed themselves, not only through the tables: Snakemake does
        # not rebuild a deleted intermediate whose downstream files are still present
        if self.imported:
            return [*self.quality_table(), *self.report_targets()]
        scenario_dirs = [d for name in self.selection.scenarios for d in self.scenario_dirs(name)]
        return [*self.checkpoint_dirs(), self.paths.table("compression"), *self.quality_files(),
                *self.quality_table(), *self.energy_dirs(), *scenario_dirs,
                *self.scenario_tables(), *self.report_targets()]
