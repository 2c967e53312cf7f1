"""Which tasks a study runs: named sets from the two source studies plus the config's own list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..schema import ConfigError
from .local_data import DataError, read_records
from .task_names import builtin_task_kinds, unknown_task_problem

TASK_DEFAULTS: dict[str, Any] = {"num_fewshot": 0, "limit": None, "batch_size": 1,
                                 "max_gen_toks": None, "data": None, "fewshot_data": None}

# The thesis evaluated WikiText-2 perplexity, MMLU and IFEval zero-shot; the paper's logic
# tests use the Open LLM Leaderboard shot counts, plus WikiText perplexity.
TASK_SETS: dict[str, list[dict[str, Any]]] = {
    "thesis": [
        {"name": "wikitext", "num_fewshot": 0},
        {"name": "mmlu", "num_fewshot": 0},
        {"name": "ifeval", "num_fewshot": 0},
    ],
    "paper": [
        {"name": "arc_challenge", "num_fewshot": 25},
        {"name": "hellaswag", "num_fewshot": 10},
        {"name": "mmlu", "num_fewshot": 5},
        {"name": "truthfulqa_mc2", "num_fewshot": 0},
        {"name": "winogrande", "num_fewshot": 5},
        {"name": "wikitext", "num_fewshot": 0},
    ],
}


def resolve_tasks(quality: dict[str, Any]) -> list[dict[str, Any]]:
    """The task list of a study: the named set, then `tasks` (overriding entries of the same name)."""
    tasks: dict[str, dict[str, Any]] = {}
    for entry in TASK_SETS.get(quality.get("task_set") or "", []):
        tasks[entry["name"]] = {**TASK_DEFAULTS, **entry}
    seen: set[str] = set()
    for index, entry in enumerate(quality.get("tasks", [])):
        name = entry["name"]
        if name in seen:
            raise ConfigError(f"quality.tasks[{index}].name", f"task {name!r} is listed twice")
        seen.add(name)
        tasks[name] = {**TASK_DEFAULTS, **tasks.get(name, {}), **entry}
    return list(tasks.values())


def check_config(config: dict[str, Any]) -> None:
    """Task names, local data files and the perplexity text."""
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
