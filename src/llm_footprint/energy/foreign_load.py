"""CPU time that other processes used during a measured window.

A machine-wide meter (RAPL, or CodeCarbon's machine-mode load model) charges the run with what
other processes burn, and even a process-mode estimate is disturbed when they compete for the
cores. Around each window the busy CPU time of the whole machine (``/proc/stat`` through
``psutil.cpu_times``: user, nice, system, irq, softirq; steal and idle excluded) and the CPU time
of this process's tree are sampled; the difference is the foreign CPU time, in core-seconds, and
divided by the window's wall time, the foreign share of one core (1.0 = one core kept busy).

The own tree's time counts, for each live process of the tree (this one and its descendants),
its user and system time plus that of its children it has reaped, so a child that ended during
the window is neither lost nor counted twice. Clock ticks (10 ms) make a few hundredths of a
core of noise over a window of seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import psutil

from .summary import MeasurementError

CONFIG_KEY = "energy.max_foreign_cpu_share"
_BUSY_FIELDS = ("user", "nice", "system", "irq", "softirq")


@dataclass(frozen=True)
class CpuSample:
    wall_s: float  # time.monotonic()
    system_cpu_s: float  # busy CPU time of the whole machine, all cores summed
    own_cpu_s: float  # CPU time of this process and its descendants


def system_busy_s(times: Any | None = None) -> float:
    times = psutil.cpu_times() if times is None else times
    return sum(float(getattr(times, name, 0.0)) for name in _BUSY_FIELDS)


def tree_cpu_s(process: psutil.Process | None = None) -> float:
    """CPU time of ``process`` (default: this one) and its descendants, reaped ones included."""
    process = psutil.Process() if process is None else process
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.Error:
        members = [process]
    total = 0.0
    for member in members:
        try:
            times = member.cpu_times()
        except psutil.Error:  # ended between listing and reading: its time goes to its parent
            continue
        total += (times.user + times.system + getattr(times, "children_user", 0.0)
                  + getattr(times, "children_system", 0.0))
    return total


def sample(process: psutil.Process | None = None) -> CpuSample:
    own = tree_cpu_s(process)
    return CpuSample(wall_s=time.monotonic(), system_cpu_s=system_busy_s(), own_cpu_s=own)


def foreign_load(start: CpuSample, end: CpuSample) -> dict[str, float]:
    """Foreign CPU time (core-seconds, never below 0) and its share of one core over the window."""
    window_s = end.wall_s - start.wall_s
    if window_s <= 0:
        raise ValueError(f"the window ends {window_s:g} s after it starts")
    system_s = end.system_cpu_s - start.system_cpu_s
    own_s = end.own_cpu_s - start.own_cpu_s
    foreign_s = max(0.0, system_s - own_s)
    return {"foreign_cpu_core_s": foreign_s, "foreign_cpu_share": foreign_s / window_s,
            "own_cpu_core_s": own_s, "system_cpu_core_s": system_s}


class ForeignLoadMeter:
    """``start()`` before the tracker starts, ``stop()`` after it stopped: the window's figures."""

    def __init__(self, process: psutil.Process | None = None) -> None:
        self._process = psutil.Process() if process is None else process
        self._start: CpuSample | None = None

    def start(self) -> None:
        self._start = sample(self._process)

    def stop(self) -> dict[str, float]:
        if self._start is None:
            raise RuntimeError("ForeignLoadMeter.stop() before start()")
        return foreign_load(self._start, sample(self._process))


def check_foreign_load(figures: dict[str, Any], max_share: float | None,
                       what: str = "energy run") -> None:
    """Reject a window in which other processes kept more than ``max_share`` of a core busy."""
    if max_share is None:
        return
    share = figures.get("foreign_cpu_share")
    if share is None:
        raise MeasurementError(f"{what} rejected: foreign CPU load was not recorded, so "
                               f"{CONFIG_KEY} cannot be checked")
    if share > max_share:
        raise MeasurementError(
            f"{what} rejected: other processes used {figures['foreign_cpu_core_s']:.2f} "
            f"core-seconds of CPU during the window, {share:.2f} of a core on average, above "
            f"{CONFIG_KEY} = {max_share:g}; run on a quieter machine (or raise the limit)")
