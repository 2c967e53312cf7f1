"""lm-evaluation-harness's built-in task names, for checking a study before anything runs.

Indexing lm-eval's ~14,000 task configs takes several seconds, and the workflow is parsed by
every cluster job, so the names are cached per installed lm-eval version.
"""

from __future__ import annotations

import difflib
import json
import os
from importlib import metadata
from pathlib import Path

from .. import atomic


def _cache_file() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "llm-footprint" / f"lm_eval-{metadata.version('lm_eval')}-task-kinds.json"


def builtin_task_kinds() -> dict[str, str]:
    """Every built-in name -> its kind (TASK, PY_TASK, GROUP or TAG)."""
    cache = _cache_file()
    try:
        return json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    from lm_eval.tasks import TaskManager

    kinds = {name: entry.kind.name for name, entry in TaskManager().task_index.items()}
    try:
        atomic.write_json(cache, kinds)
    except OSError:
        pass  # a read-only home only costs the indexing time again
    return kinds


def unknown_task_problem(name: str, known: dict[str, str] | frozenset[str]) -> str | None:
    """None if ``name`` is a built-in task, group or tag; else a message with close matches."""
    if name in known:
        return None
    close = difflib.get_close_matches(name, sorted(known), n=5, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return f"{name!r} is not an lm-evaluation-harness task, group or tag{hint}"
