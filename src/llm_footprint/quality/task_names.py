"""lm-evaluation-harness's built-in task names, for checking a study before anything runs.

Indexing lm-eval's ~14,000 task configs takes several seconds (13 s on a 2-core Xeon), and the
workflow is parsed by every cluster job, so the names are cached per installed lm-eval version,
with the config file each task comes from: an evaluation job then indexes only the folders of
its own tasks (`task_manager_for`), under a second.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any

from .. import atomic


def _cache_file(what: str = "kinds") -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "llm-footprint" / f"lm_eval-{metadata.version('lm_eval')}-task-{what}.json"


def _tasks_root() -> Path:
    import lm_eval.tasks

    return Path(lm_eval.tasks.__file__).parent


def _read_cache(what: str) -> dict[str, Any] | None:
    try:
        return json.loads(_cache_file(what).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@functools.cache  # once per process, even where the cache cannot be written
def _index() -> tuple[dict[str, str], dict[str, str]]:
    """Index every built-in config once: name -> kind, and name -> its config file relative
    to lm-eval's task folder (tasks defined elsewhere have none)."""
    from lm_eval.tasks import TaskManager

    root = _tasks_root()
    kinds, configs = {}, {}
    for name, entry in TaskManager().task_index.items():
        kinds[name] = entry.kind.name
        path = Path(entry.yaml_path) if entry.yaml_path else None
        if path is not None and path.is_relative_to(root):
            configs[name] = path.relative_to(root).as_posix()
    for what, table in (("kinds", kinds), ("configs", configs)):
        try:
            atomic.write_json(_cache_file(what), table)
        except OSError:
            pass  # a read-only home only costs the indexing time again
    return kinds, configs


def builtin_task_kinds() -> dict[str, str]:
    """Every built-in name -> its kind (TASK, PY_TASK, GROUP or TAG)."""
    return _read_cache("kinds") or _index()[0]


def builtin_task_configs() -> dict[str, str]:
    """Every built-in name -> its config file, relative to lm-eval's task folder."""
    return _read_cache("configs") or _index()[1]


# groups whose subtasks all live in the group's own top-level folder; any other group or tag
# may gather tasks from anywhere, so it gets the full index
SELF_CONTAINED_GROUPS = frozenset({"mmlu"})


def folders_to_index(names: list[str], kinds: dict[str, str],
                     configs: dict[str, str]) -> list[str] | None:
    """The top-level task folders that define ``names``, or None where only the full index is
    safe (a group or tag that may span folders, a name without a built-in config file)."""
    folders = set()
    for name in names:
        if name not in configs or (kinds.get(name) not in ("TASK", "PY_TASK")
                                   and name not in SELF_CONTAINED_GROUPS):
            return None
        folders.add(configs[name].split("/")[0])
    return sorted(folders)


def task_manager_for(names: list[str]) -> Any:
    """An lm-eval TaskManager over the folders that define ``names`` only, the same configs the
    full index resolves them to (checked); the full index where that cannot be vouched for."""
    from lm_eval.tasks import TaskManager

    configs = builtin_task_configs()
    folders = folders_to_index(names, builtin_task_kinds(), configs)
    if folders is None:
        return TaskManager()
    root = _tasks_root()
    manager = TaskManager(include_path=[str(root / folder) for folder in folders],
                          include_defaults=False)
    for name in names:
        entry = manager.task_index.get(name)
        if entry is None or Path(entry.yaml_path) != root / configs[name]:
            return TaskManager()
    return manager


def unknown_task_problem(name: str, known: dict[str, str] | frozenset[str]) -> str | None:
    """None if ``name`` is a built-in task, group or tag; else a message with close matches."""
    if name in known:
        return None
    close = difflib.get_close_matches(name, sorted(known), n=5, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return f"{name!r} is not an lm-evaluation-harness task, group or tag{hint}"
