"""Shared start of every workflow script: make the package importable and log to the rule's log.

Snakemake puts this folder on sys.path for local scripts, so each script begins with
``from _job import start`` and then calls into llm_footprint; the work itself lives there.
"""

import os
import sys
import traceback
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
if SRC.is_dir() and str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))


def start(snakemake):
    """Redirect all output to the job's log; a failure is also echoed to the console."""
    from llm_footprint import runlog

    if not snakemake.log:
        return
    console = os.fdopen(os.dup(2), "w", buffering=1)
    runlog.to_file(snakemake.log[0])

    def report_failure(kind, error, tb):
        traceback.print_exception(kind, error, tb)  # full traceback into the log
        console.write(f"{kind.__name__}: {error}\n  (details: {snakemake.log[0]})\n")

    sys.excepthook = report_failure
