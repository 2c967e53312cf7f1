"""Send everything a job prints (Python logging, library progress bars, C-level output) to the
rule's log file, so ``logs/<rule>/...`` is the one place to look when a job fails."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def to_file(log_path: str | Path, level: int = logging.INFO) -> None:
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    # line-buffered so `tail -f` on the log follows a long job
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", closefd=False)
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", closefd=False)
    logging.basicConfig(level=level, format=FORMAT, stream=sys.stderr, force=True)
    quiet_libraries()


def quiet_libraries() -> None:
    """Keep third-party chatter at warning level; the workflow's own progress stays at info."""
    for name in ("httpx", "urllib3", "filelock", "fsspec", "torchao"):
        logging.getLogger(name).setLevel(logging.WARNING)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
