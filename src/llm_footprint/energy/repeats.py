"""The repeats of every energy measurement: how many, when to stop, and what survives a kill.

Every scenario (the timed replay, the fixed workload, each batch size of the saturated loop)
measures its unit of work again and again under a checked tracker. ``run_repeats`` is that
loop, the same for all of them:

- it stops on precision (``Precision``): when the 95 % interval of the scenario's headline
  figure is within ``target`` of its mean (relative half-width), after at least
  ``min_repeats``, and at the latest after ``max_repeats`` or ``max_minutes``; fixed
  ``repeats`` is the case min = max;
- every completed repeat is written at once, atomically, into a ledger beside the output
  folder (``RepeatLedger``: its figures, its requests and its own CodeCarbon file), so a killed
  or requeued job resumes from the repeats already done when their fingerprint (checkpoint,
  config section, hardware, library versions) matches, and discards them, with a log line,
  when it does not.

The ledger lives outside the job's declared output (``.{output}.repeats/`` beside it), because
Snakemake removes a failed job's outputs; it is removed once the output is published.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .. import atomic
from .stats import mean_ci95

log = logging.getLogger(__name__)

FINGERPRINT_FILE = "fingerprint.json"


@dataclass(frozen=True)
class Precision:
    """When a series of repeats stops (see the module docstring)."""

    target: float | None  # relative 95 % half-width of the headline figure; None: fixed count
    min_repeats: int
    max_repeats: int
    max_minutes: float | None = None

    @classmethod
    def of(cls, section: dict[str, Any], fallback: dict[str, Any] | None = None) -> Precision:
        """A scenario's precision: its own ``precision``, else the energy section's
        (``fallback``), else its fixed ``repeats``."""
        chosen = section.get("precision") or (fallback or {}).get("precision")
        if not chosen:
            return cls(None, int(section["repeats"]), int(section["repeats"]))
        return cls(chosen.get("target"), int(chosen["min_repeats"]), int(chosen["max_repeats"]),
                   chosen.get("max_minutes"))

    def stop_reason(self, values: list[float], elapsed_s: float) -> str | None:
        """Why the series stops after these headline values, or None to go on."""
        n = len(values)
        if n >= self.min_repeats and self.target is not None:
            width = relative_half_width(values)
            if width is not None and width <= self.target:
                return "target"
        if n >= self.max_repeats:
            return "repeats" if self.target is None else "max_repeats"
        if self.max_minutes is not None and n >= 1 and elapsed_s >= self.max_minutes * 60:
            return "max_minutes"
        return None


def relative_half_width(values: list[float]) -> float | None:
    """95 % Student-t half-width over |mean|; None for fewer than two values or a zero mean."""
    if len(values) < 2:
        return None
    stats = mean_ci95(values)
    return abs(stats["ci95_half_width"] / stats["mean"]) if stats["mean"] else None


def fingerprint_digest(fingerprint: dict[str, Any]) -> str:
    canonical = json.dumps(fingerprint, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class RepeatLedger:
    """Completed repeats of one job's measurement, kept beside its output folder."""

    def __init__(self, out_dir: str | Path, fingerprint: dict[str, Any]):
        self.folder = self.folder_of(out_dir)
        digest = fingerprint_digest(fingerprint)
        recorded = self.folder / FINGERPRINT_FILE
        if self.folder.is_dir():
            kept = (json.loads(recorded.read_text(encoding="utf-8")).get("sha256")
                    if recorded.is_file() else None)
            if kept != digest:
                done = len(list(self.folder.glob("*.json"))) - recorded.is_file()
                log.warning("discarding %d completed repeats in %s: they were measured with "
                            "another checkpoint, config, hardware or library versions", done,
                            self.folder)
                shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic.write_json(recorded, {"sha256": digest, "fingerprint": fingerprint})

    @staticmethod
    def folder_of(out_dir: str | Path) -> Path:
        """The ledger's folder: hidden beside the output, so a rerun's removal of the output
        (Snakemake removes a job's outputs before it runs) leaves it."""
        out_dir = Path(out_dir)
        return out_dir.parent / f".{out_dir.name}.repeats"

    def _record(self, series: str, repeat: int) -> Path:
        return self.folder / f"{series}-{repeat:04d}.json"

    def completed(self, series: str) -> list[dict[str, Any]]:
        """The series' completed repeats, in order, stopping at the first gap."""
        done = []
        while (path := self._record(series, len(done) + 1)).is_file():
            done.append(json.loads(path.read_text(encoding="utf-8")))
        return done

    def emissions_file(self, series: str, repeat: int) -> str:
        """The CodeCarbon file of one repeat (in ``folder``); what a killed attempt left of it
        is removed, so the repeat's file holds only the repeat that completes."""
        name = f"{series}-{repeat:04d}.emissions.csv"
        (self.folder / name).unlink(missing_ok=True)
        return name

    def save(self, series: str, repeat: int, record: dict[str, Any]) -> None:
        atomic.write_json(self._record(series, repeat), record)

    def adopt(self, series: str, repeat: int, record: dict[str, Any], source: Path) -> None:
        """Keep a repeat measured into another ledger (``source``, a folder) as this one's: its
        CodeCarbon file, then its record (a measurement shared by a job's outputs)."""
        name = f"{series}-{repeat:04d}.emissions.csv"
        atomic.write_text(self.folder / name, (Path(source) / name).read_text(encoding="utf-8"))
        self.save(series, repeat, record)

    def merge_emissions(self, target: str | Path, series: list[str]) -> int:
        """CodeCarbon's rows of every completed repeat, in order, into one file (one header);
        returns the rows written."""
        header, rows = None, []
        for name in series:
            for repeat in range(1, len(self.completed(name)) + 1):
                path = self.folder / f"{name}-{repeat:04d}.emissions.csv"
                lines = path.read_text(encoding="utf-8").splitlines()
                header = header or lines[0]
                rows.extend(line for line in lines[1:] if line.strip())
        if header is not None:
            atomic.write_text(target, "\n".join([header, *rows]) + "\n")
        return len(rows)

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    @classmethod
    def discard_folder(cls, out_dir: str | Path) -> None:
        """Remove the ledger of ``out_dir``'s measurement (once its output is written)."""
        shutil.rmtree(cls.folder_of(out_dir), ignore_errors=True)


def run_repeats(ledger: RepeatLedger, series: str, precision: Precision, headline: str,
                measure: Callable[[int, str], dict[str, Any]]) -> tuple[list[dict[str, Any]],
                                                                        dict[str, Any]]:
    """Repeat ``measure(repeat, emissions_file)`` until ``precision`` says stop.

    Returns the repeats' records (resumed ones first) and the series' precision record:
    repeats run, resumed, the headline's achieved relative half-width, ``target_met`` (None
    when there is no target) and what stopped it.
    """
    runs = ledger.completed(series)
    if runs:
        log.info("%s: resuming after %d completed repeats", series, len(runs))
    resumed = len(runs)
    # the time limit counts the resumed repeats' own measured time, not the gap of a requeue
    elapsed_before = sum(float(r.get("duration_s") or 0) for r in runs)
    started = time.monotonic()
    while (reason := precision.stop_reason([r[headline] for r in runs],
                                           elapsed_before + time.monotonic() - started)) is None:
        repeat = len(runs) + 1
        record = measure(repeat, ledger.emissions_file(series, repeat))
        if record.get(headline) is None:
            raise ValueError(f"{series} repeat {repeat}: no {headline} to judge precision by")
        ledger.save(series, repeat, record)
        runs.append(record)
        width = relative_half_width([r[headline] for r in runs])
        log.info("%s: repeat %d: %s = %.6g (95 %% half-width %s of the mean)", series, repeat,
                 headline, record[headline], "n/a" if width is None else f"{width:.2%}")
    width = relative_half_width([r[headline] for r in runs])
    achieved = {
        **asdict(precision), "headline": headline, "repeats": len(runs), "resumed": resumed,
        "ci95_rel_half_width": width, "stopped_by": reason,
        "target_met": None if precision.target is None
        else width is not None and width <= precision.target,
    }
    if achieved["target_met"] is False:
        log.warning("%s: %s's 95 %% interval is %s of its mean after %d repeats (target %.1f %%, "
                    "stopped by %s)", series, headline,
                    "undefined" if width is None else f"{width:.1%}", len(runs),
                    100 * precision.target, reason)
    return runs, achieved
