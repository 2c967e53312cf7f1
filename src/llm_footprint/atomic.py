"""Atomic outputs: a killed job never leaves a file or folder that looks finished.

Every writer stages its content next to the target (same file system) and renames it into
place as the last step. A writer that starts first removes the staging entries an earlier,
killed attempt at the same target left behind, and what it publishes gets the umask's modes.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _publishable(path: str | Path, base_mode: int) -> None:
    # mkstemp/mkdtemp create 0600/0700 entries; results on a shared cluster file system must
    # get the modes the user's umask gives any other new file or folder
    os.chmod(path, base_mode & ~_umask())


def _publishable_tree(root: Path) -> None:
    """Give every file and folder below ``root`` the umask's modes (executables stay so).

    Some writers (tempfile-based savers, copies of read-only sources) leave 0600 files; links
    are left alone, since chmod would follow them into the folder they point at.
    """
    mask = _umask()
    for folder, subfolders, files in os.walk(root):
        for name in subfolders:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, 0o777 & ~mask)
        for name in files:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                continue
            executable = os.stat(path).st_mode & stat.S_IXUSR
            os.chmod(path, (0o777 if executable else 0o666) & ~mask)


def _staging_pattern(target: Path) -> re.Pattern[str]:
    # tempfile names are the prefix, 8 characters of [a-z0-9_], then the suffix
    return re.compile(rf"\.{re.escape(target.name)}\.[a-z0-9_]{{8}}\.part")


def remove_stale_staging(target: str | Path) -> list[Path]:
    """Remove what a killed writer of ``target`` left beside it; return what was removed.

    Snakemake runs one job per output at a time, so any staging entry of the same target
    found when a writer starts belongs to an earlier attempt that never finished.
    """
    target = Path(target)
    if not target.parent.is_dir():
        return []
    pattern = _staging_pattern(target)
    removed = []
    for entry in target.parent.iterdir():
        if not pattern.fullmatch(entry.name):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
        removed.append(entry)
    return removed


def _json_default(value: Any) -> Any:
    # numpy scalars, torch dtypes, paths: write their plain form rather than failing mid-write
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return str(value)


@contextlib.contextmanager
def staged_file(target: str | Path, mode: str = "w") -> Iterator[Any]:
    """Yield a handle on a temporary file that replaces ``target`` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(target)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        _publishable(tmp_name, 0o666)
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def write_json(target: str | Path, payload: Any) -> None:
    with staged_file(target) as handle:
        json.dump(payload, handle, indent=2, sort_keys=False, default=_json_default)
        handle.write("\n")


def write_text(target: str | Path, text: str) -> None:
    with staged_file(target) as handle:
        handle.write(text)


def write_csv(target: str | Path, rows: Sequence[Mapping[str, Any]],
              columns: Sequence[str] | None = None) -> None:
    """Write dict rows as CSV; ``columns`` fixes the order (default: first-seen order)."""
    if columns is None:
        columns = []
        for row in rows:
            columns.extend(k for k in row if k not in columns)
    with staged_file(target) as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="raise",
                                lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_cell(row.get(k)) for k in columns})


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return value


def write_jsonl(target: str | Path, records: Iterable[Mapping[str, Any]]) -> None:
    with staged_file(target) as handle:
        for record in records:
            handle.write(json.dumps(record, default=_json_default) + "\n")


@contextlib.contextmanager
def staged_directory(target: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder that becomes ``target`` only if the block succeeds.

    An existing empty ``target`` (Snakemake may create output folders) is replaced; a
    non-empty one is an error rather than silently merged.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    try:
        yield staging
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.is_dir():
            target.rmdir()  # raises if not empty: never merge into a half-written folder
        _publishable_tree(staging)
        _publishable(staging, 0o777)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
