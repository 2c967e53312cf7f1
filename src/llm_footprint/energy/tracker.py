"""CodeCarbon with its failures made visible, and NVML's energy counter as a cross-check.

CodeCarbon catches its own exceptions in ``start``, ``stop`` and ``flush`` and only logs them,
so a broken tracker reports nothing or zeros. ``CheckedTracker`` listens to CodeCarbon's
logger and raises if anything went wrong, and returns the row it wrote to emissions.csv.
"""

from __future__ import annotations

import csv
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .power_sources import power_sources

log = logging.getLogger(__name__)


class TrackerError(RuntimeError):
    """CodeCarbon failed (it had swallowed the exception) or returned nothing."""


class _ErrorCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.problems: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.exc_info or record.levelno >= logging.ERROR or "graceful shutdown" in message:
            detail = ""
            if record.exc_info and record.exc_info[1] is not None:
                detail = f": {type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
            self.problems.append(f"{message}{detail}")


class _TickGuard:
    """Keeps CodeCarbon's periodic measurement from overlapping its final one.

    CodeCarbon measures every ``measure_power_secs`` on a timer thread and once more in
    ``stop``, each adding the energy since the last measurement. Its ``stop`` cancels the next
    timer but does not wait for one already running, so a window stopped while a periodic
    measurement runs counts that interval twice: a 1 s idle window on a 1 s period came out
    with twice its RAM energy on every try. The guard serialises the two and turns the
    periodic measurement into a no-op once stopping has begun.
    """

    def __init__(self, tracker: Any) -> None:
        scheduler = getattr(tracker, "_scheduler", None)
        if scheduler is None or not callable(getattr(scheduler, "function", None)):
            raise TrackerError("this CodeCarbon version has no periodic scheduler to guard "
                               "(codecarbon is pinned in requirements/constraints.txt)")
        self._lock = threading.Lock()
        self._closed = False
        periodic = scheduler.function

        def guarded(*args: Any, **kwargs: Any) -> None:
            with self._lock:
                if not self._closed:
                    periodic(*args, **kwargs)

        scheduler.function = guarded

    def close(self) -> None:
        """Wait for a periodic measurement in progress, then let none run again."""
        with self._lock:
            self._closed = True


@dataclass
class CheckedTracker:
    """One CodeCarbon run writing one row to ``output_dir/output_file``."""

    output_dir: Path
    output_file: str
    tracker_settings: dict[str, Any]
    experiment: str = "replay"
    _tracker: Any = field(default=None, init=False, repr=False)
    _collector: _ErrorCollector = field(default_factory=_ErrorCollector, init=False, repr=False)
    _sources: dict[str, str] | None = field(default=None, init=False, repr=False)
    _guard: _TickGuard | None = field(default=None, init=False, repr=False)

    def start(self) -> None:
        from codecarbon import OfflineEmissionsTracker

        await_cpu_model_lookup()
        logging.getLogger("codecarbon").addHandler(self._collector)
        self._tracker = OfflineEmissionsTracker(
            **_codecarbon_settings(self.tracker_settings), output_dir=str(self.output_dir),
            output_file=self.output_file, save_to_file=True,
            project_name="llm-footprint", experiment_name=self.experiment,
            allow_multiple_runs=True, log_level="warning")
        self._guard = _TickGuard(self._tracker)
        self._tracker.start()
        self._raise_if_failed("start")

    def stop(self) -> dict[str, Any]:
        """Stop, check, and return CodeCarbon's final figures (kWh, W, s as it reports them)."""
        try:
            self._guard.close()
            self._tracker.stop()
        finally:
            logging.getLogger("codecarbon").removeHandler(self._collector)
        self._raise_if_failed("stop")
        self._sources = power_sources(self._tracker)
        data = getattr(self._tracker, "final_emissions_data", None)
        if data is None:
            raise TrackerError("CodeCarbon returned no emissions data")
        return dict(vars(data)) if not isinstance(data, dict) else dict(data)

    def power_sources(self) -> dict[str, str]:
        """How each component's figure was obtained (see ``power_sources``), read at stop."""
        if self._sources is None:
            return power_sources(self._tracker)
        return dict(self._sources)

    def _raise_if_failed(self, phase: str) -> None:
        if self._collector.problems:
            raise TrackerError(f"CodeCarbon failed during {phase}: "
                               + "; ".join(self._collector.problems))


def _codecarbon_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The tracker arguments CodeCarbon keys its hardware detection on (and the country)."""
    return {"country_iso_code": settings["country_iso_code"],
            "measure_power_secs": settings["measure_power_secs"],
            "tracking_mode": settings["tracking_mode"],
            "force_cpu_power": settings.get("force_cpu_power_w"),
            "force_ram_power": settings.get("force_ram_power_w")}


_cpu_model_lookup: threading.Thread | None = None


def look_up_cpu_model_in_background() -> None:
    """Start CodeCarbon's CPU model lookup in a thread, so that the job's imports and loading
    overlap it instead of its first tracker waiting for it.

    CodeCarbon names the CPU through py-cpuinfo, which starts a Python child process that
    times the CPU's clock for a second (1.1-1.2 s on a 2-core host), then keeps the answer for
    the rest of the process. The lookup only reads; a tracker started before it has finished
    waits for it (``await_cpu_model_lookup``) rather than starting a second one.
    """
    global _cpu_model_lookup
    if _cpu_model_lookup is not None:
        return

    def look_up() -> None:
        try:
            from codecarbon.core.util import detect_cpu_model

            detect_cpu_model()
        except Exception as error:  # noqa: BLE001 - the tracker's own lookup reports it
            log.debug("CodeCarbon's CPU model lookup in the background failed: %s", error)

    _cpu_model_lookup = threading.Thread(target=look_up, name="codecarbon-cpu-model",
                                         daemon=True)
    _cpu_model_lookup.start()


def await_cpu_model_lookup() -> None:
    """Wait for a lookup started by ``look_up_cpu_model_in_background``, if any."""
    if _cpu_model_lookup is not None:
        _cpu_model_lookup.join()


def detect_hardware_in_background(settings: dict[str, Any]) -> threading.Thread:
    """Run CodeCarbon's hardware detection in a thread and return it (join it before measuring).

    CodeCarbon detects the hardware once per process, when its first tracker starts (CPU
    model and TDP lookup, RAM, GPUs: about 1.4 s on a 2-core host), and caches the result for
    trackers with the same settings. An energy job starts the detection while it loads the
    model, so its first measured window does not wait for it; the detection writes nothing.
    """
    def detect() -> None:
        from codecarbon import OfflineEmissionsTracker

        await_cpu_model_lookup()
        try:
            tracker = OfflineEmissionsTracker(
                **_codecarbon_settings(settings), save_to_file=False,
                project_name="llm-footprint", experiment_name="hardware-detection",
                allow_multiple_runs=True, log_level="warning")
            tracker.start()
            tracker.stop()
        except Exception as error:  # noqa: BLE001 - the first real tracker reports any failure
            log.debug("CodeCarbon's hardware detection in the background failed: %s", error)

    thread = threading.Thread(target=detect, name="codecarbon-hardware-detection", daemon=True)
    thread.start()
    return thread


def read_emissions_rows(path: str | Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


class NvmlEnergy:
    """Total-energy counter (mJ) of the GPU this process uses, when NVML can read it."""

    def __init__(self) -> None:
        self.handle = None
        self.error: str | None = None
        try:
            import pynvml
            import torch

            if not torch.cuda.is_available():
                self.error = "no CUDA device"
                return
            pynvml.nvmlInit()
            uuid = str(torch.cuda.get_device_properties(torch.cuda.current_device()).uuid)
            for index in range(pynvml.nvmlDeviceGetCount()):
                handle = pynvml.nvmlDeviceGetHandleByIndex(index)
                nvml_uuid = pynvml.nvmlDeviceGetUUID(handle)
                nvml_uuid = nvml_uuid.decode() if isinstance(nvml_uuid, bytes) else nvml_uuid
                if nvml_uuid.removeprefix("GPU-") == uuid.removeprefix("GPU-"):
                    self.handle = handle
                    break
            if self.handle is None:  # fall back on the first visible device
                self.handle = pynvml.nvmlDeviceGetHandleByIndex(0)
            pynvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)
        except Exception as error:  # noqa: BLE001 - the cross-check is optional by nature
            self.handle = None
            self.error = f"{type(error).__name__}: {error}"

    @property
    def available(self) -> bool:
        return self.handle is not None

    def read_mj(self) -> int | None:
        if self.handle is None:
            return None
        import pynvml

        return int(pynvml.nvmlDeviceGetTotalEnergyConsumption(self.handle))
