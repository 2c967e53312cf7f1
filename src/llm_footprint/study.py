"""A validated study: the schema checks, each stage's checks of its own section, accessors.

``load_study`` is what the workflow calls when it parses; every error names the config key and
is raised before any job runs. The checks live with the stages (``check_config`` of each
stage's module); this module runs them in order and checks what spans stages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import carbon, checkpoint_info, compression, imports, prepare, recommend, tradeoff
from .compression.chains import variant_steps
from .energy import schedule
from .quality import task_sets
from .schema import ConfigError, load_schema, validate


def _check_study_keys(config: dict[str, Any]) -> None:
    baseline = config["study"]["baseline_variant"]
    if config["measurements"] and not config["variants"]:
        return  # imported measurements: checked against the measurement files
    if baseline not in config["variants"]:
        raise ConfigError("study.baseline_variant",
                          f"{baseline!r} is not a variant (variants: {', '.join(config['variants'])})")
    if config["variants"][baseline]["method"] != "none":
        raise ConfigError("study.baseline_variant", f"{baseline!r} must have method none")
    default_setup = config["study"]["default_setup"]
    if default_setup is not None and default_setup not in config["setups"]:
        raise ConfigError("study.default_setup",
                          f"{default_setup!r} is not a setup (setups: {', '.join(config['setups'])})")


def _check_setups(config: dict[str, Any]) -> None:
    for setup_id, spec in config["setups"].items():
        key = f"setups.{setup_id}"
        if spec["device"] == "cuda" and spec["gpu_memory_gb"] is None:
            raise ConfigError(f"{key}.gpu_memory_gb", "is required for cuda setups (it decides "
                                                      "which models fit)")
        if spec["device"] == "cpu":
            for name in ("gpu_model", "gpu_memory_gb"):
                if spec[name] is not None:
                    raise ConfigError(f"{key}.{name}", "only applies to cuda setups")


def evaluation_files(config: dict[str, Any]) -> set[Path]:
    """Every local file the quality stage scores the models on."""
    quality = config.get("quality") or {}
    files = {Path(t[k]) for t in quality.get("tasks", []) for k in ("data", "fewshot_data")
             if t.get(k)}
    if (quality.get("perplexity") or {}).get("path"):
        files.add(Path(quality["perplexity"]["path"]))
    expanded = set()
    for path in files:
        expanded |= set(path.glob("*")) if path.is_dir() else {path}
    return {p.resolve() for p in expanded if p.is_file()}


def _check_calibration_is_not_evaluation_text(config: dict[str, Any]) -> None:
    evaluated = evaluation_files(config)
    if not evaluated:
        return
    digests = {checkpoint_info.sha256_file(p): p for p in evaluated}
    for step_key, spec in variant_steps(config["variants"]):
        calibration = spec.get("calibration") or {}
        texts = []
        if calibration.get("source") == "text_file" and calibration.get("path"):
            texts.append(("calibration.path", calibration["path"]))
        if isinstance(spec.get("data"), str):  # the training text of method distill
            texts.append(("data", spec["data"]))
        for key, name in texts:
            path = Path(name).resolve()
            twin = digests.get(checkpoint_info.sha256_file(path)) if path.is_file() else None
            if path in evaluated or twin:
                raise ConfigError(f"{step_key}.{key}",
                                  f"{path} is also evaluation data ({twin or path}): calibrating "
                                  "or training on the text a model is scored on flatters the "
                                  "compressed model")


# Each stage checks its own section; the order is that of the config file, so the first error
# reported is the first one a reader meets.
def _check_perplexity_context(config: dict[str, Any]) -> None:
    """The perplexity window fits each model's context, where its config can be read now."""
    perplexity = (config.get("quality") or {}).get("perplexity") or {}
    if not perplexity.get("enabled") or config.get("measurements"):
        return
    for model_id in config["models"]:
        model_config = prepare.known_model_config(config, model_id)
        problem = model_config and checkpoint_info.context_problem(
            model_config, perplexity["context_tokens"])
        if problem:
            raise ConfigError("quality.perplexity.context_tokens", f"model {model_id}: {problem}")


STAGE_CHECKS: list[Callable[[dict[str, Any]], None]] = [
    imports.check_config,
    prepare.check_config,
    compression.check_config,
    _check_study_keys,
    _check_setups,
    task_sets.check_config,
    _check_perplexity_context,
    _check_calibration_is_not_evaluation_text,
    schedule.check_config,
    carbon.check_config,
    tradeoff.check_config,
    recommend.check_config,
]


def _check_precision(config: dict[str, Any]) -> None:
    energy = config.get("energy") or {}
    sections = [("energy.precision", energy.get("precision"))]
    sections += [(f"energy.scenarios.{name}.precision", (scenario or {}).get("precision"))
                 for name, scenario in (energy.get("scenarios") or {}).items()]
    for key, precision in sections:
        if precision and precision["min_repeats"] > precision["max_repeats"]:
            raise ConfigError(f"{key}.min_repeats", f"{precision['min_repeats']} exceeds "
                              f"max_repeats {precision['max_repeats']}")
    gate = energy.get("idle_precision")
    if gate and energy["idle_window_s"] > 0:  # idle_window_s 0 skips the idle window
        shortest = gate["min_slices"] * gate["slice_s"]
        if shortest > energy["idle_window_s"]:
            raise ConfigError("energy.idle_precision.min_slices",
                              f"{gate['min_slices']} slices of {gate['slice_s']:g} s need "
                              f"energy.idle_window_s >= {shortest:g} (it is "
                              f"{energy['idle_window_s']:g})")


def check(config: dict[str, Any]) -> None:
    """The checks a JSON schema cannot express; raise ConfigError naming the key."""
    for section in ("models", "variants", "setups"):
        config.setdefault(section, {})  # absent only when measurements are imported
    for stage_check in STAGE_CHECKS:
        stage_check(config)
    _check_precision(config)


def data_path_keys(config: dict[str, Any]) -> list[tuple[dict[str, Any], str, str]]:
    """(container, key, dotted name) of every config value that names a local file or folder."""
    found = []
    quality = config.get("quality") or {}
    for index, task in enumerate(quality.get("tasks") or []):
        for key in ("data", "fewshot_data"):
            if isinstance(task, dict) and isinstance(task.get(key), str):
                found.append((task, key, f"quality.tasks[{index}].{key}"))
    perplexity = quality.get("perplexity") or {}
    if isinstance(perplexity.get("path"), str):
        found.append((perplexity, "path", "quality.perplexity.path"))
    prompts = (config.get("energy") or {}).get("prompts") or {}
    if isinstance(prompts.get("path"), str):
        found.append((prompts, "path", "energy.prompts.path"))
    carbon = config.get("carbon") or {}
    if isinstance(carbon.get("intensity_file"), str):
        found.append((carbon, "intensity_file", "carbon.intensity_file"))
    if isinstance(carbon.get("hourly_profile"), dict) and isinstance(carbon["hourly_profile"].get("file"), str):
        found.append((carbon["hourly_profile"], "file", "carbon.hourly_profile.file"))
    measurements = config.get("measurements") or {}
    for key in ("energy", "quality"):
        if isinstance(measurements.get(key), str):
            found.append((measurements, key, f"measurements.{key}"))
    for model_id, spec in config.get("models", {}).items():
        if isinstance(spec, dict) and isinstance(spec.get("path"), str):
            found.append((spec, "path", f"models.{model_id}.path"))
    for step_key, spec in variant_steps(config.get("variants", {})):
        calibration = spec.get("calibration")
        if isinstance(calibration, dict) and isinstance(calibration.get("path"), str):
            found.append((calibration, "path", f"{step_key}.calibration.path"))
        if isinstance(spec.get("data"), str):
            found.append((spec, "data", f"{step_key}.data"))
    return found


def resolve_paths(config: dict[str, Any], search_dirs: list[Path]) -> None:
    """Make relative data paths absolute: the working directory first, then the workflow's own
    folder, so the data the workflow ships is found from any working directory."""
    for container, key, _ in data_path_keys(config):
        path = Path(container[key]).expanduser()
        if path.is_absolute():
            continue
        candidates = [d / path for d in search_dirs]
        container[key] = str(next((c for c in candidates if c.exists()), candidates[0]).resolve())


def load_study(config: dict[str, Any], schema_path: str | Path,
               search_dirs: list[Path] | None = None) -> "Study":
    validate(config, load_schema(schema_path))
    resolve_paths(config, search_dirs or [Path.cwd()])
    check(config)
    return Study(config)


@dataclass
class Study:
    """Read-only views of a validated config that the rules and scripts share."""

    config: dict[str, Any]

    @property
    def name(self) -> str:
        return self.config["study"]["name"]

    @property
    def models(self) -> list[str]:
        return list(self.config["models"])

    @property
    def variants(self) -> list[str]:
        return list(self.config["variants"])

    @property
    def setups(self) -> list[str]:
        return list(self.config["setups"])

    @property
    def baseline_variant(self) -> str:
        return self.config["study"]["baseline_variant"]

    @property
    def default_setup(self) -> str | None:
        return self.config["study"]["default_setup"] or (self.setups[0] if self.setups else None)

    @property
    def imported(self) -> bool:
        """Measurements come from files: no model is run."""
        return self.config["measurements"] is not None

    @property
    def teachers(self) -> dict[str, str | None]:
        return {m: spec.get("teacher") for m, spec in self.config["models"].items()}

    def reported_models(self) -> list[str]:
        """Models the figures are drawn for: the study's, or those of the imported file."""
        if not self.imported:
            return self.models
        rows = imports.read_energy(self.config["measurements"]["energy"])
        return list(dict.fromkeys(row["model"] for row in rows))

    def model(self, model_id: str) -> dict[str, Any]:
        return self.config["models"][model_id]

    def variant(self, variant_id: str) -> dict[str, Any]:
        return self.config["variants"][variant_id]

    def setup(self, setup_id: str) -> dict[str, Any]:
        return self.config["setups"][setup_id]
