"""Which tasks a study runs: named sets from the two source studies plus the config's own list."""

from __future__ import annotations

from typing import Any

from ..schema import ConfigError

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
