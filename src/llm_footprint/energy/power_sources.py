"""How CodeCarbon obtained each component's figure: measured, estimated, forced or absent.

Read from the hardware objects a started (or stopped) CodeCarbon 3.3 tracker keeps in
``tracker._hardware``, not from its log, so the label is what the run actually used:

- CPU: ``CPU._mode`` is "intel_rapl" / "windows_emi" / "intel_power_gadget" (energy counters:
  measured), "cpu_load" (estimated: a TDP times the load, the process's CPU time share in process
  mode, a cubic curve of the machine's load in machine mode) or "constant" (half the TDP, when
  psutil is missing). The TDP of the load model comes from ``force_cpu_power`` when set, else from
  CodeCarbon's TDP table, else 4 W per thread when the CPU model is not in the table, else a
  generic 85 W. ``force_cpu_power`` does not make the CPU figure constant in 3.3.2: it replaces
  the TDP of the load model.
- RAM: always CodeCarbon's model (5 W per estimated DIMM, 10 W at least, of the machine's memory
  or the process's RSS), or the constant ``force_ram_power``. A Raspberry Pi's PMIC measures it.
- GPU: NVML (or AMD SMI) energy counter, or their power readings averaged when the counter is
  unavailable; absent without a GPU.

The labels start with "measured:", "estimated:", "constant:", "absent" or "unknown:" (CodeCarbon's
internals were not as expected, so nothing can be said).
"""

from __future__ import annotations

import functools
from typing import Any

COMPONENTS = ("cpu", "gpu", "ram")
ABSENT = "absent"

_CPU_COUNTERS = {
    "intel_rapl": "measured: RAPL",
    "windows_emi": "measured: RAPL (Windows EMI)",
    "intel_power_gadget": "measured: Intel Power Gadget",
}
_GPU_BACKENDS = {"NvidiaGPUDevice": "NVML", "AMDGPUDevice": "AMD SMI"}


def power_sources(tracker: Any) -> dict[str, str]:
    """One label per component ("cpu", "gpu", "ram") for a CodeCarbon tracker after start()."""
    hardware = getattr(tracker, "_hardware", None)
    if not isinstance(hardware, list) or not hardware:
        reason = "unknown: CodeCarbon set up no hardware (tracker not started?)"
        return {part: reason for part in COMPONENTS}
    sources = {part: ABSENT for part in COMPONENTS}
    for item in hardware:
        kind = type(item).__name__
        if kind == "RAM":
            sources["ram"] = _ram_label(item)
        elif kind == "CPU":
            sources["cpu"] = _cpu_label(item, tracker)
        elif kind == "GPU":
            sources["gpu"] = _gpu_label(item)
        elif kind == "AppleSiliconChip":
            sources[str(getattr(item, "chip_part", "cpu")).lower()] = "measured: powermetrics"
        elif kind == "Raspberry":
            sources[str(getattr(item, "chip_part", "cpu")).lower()] = "measured: Raspberry Pi PMIC"
    return sources


def combine(per_run: list[dict[str, str]]) -> dict[str, str]:
    """The runs' labels per component; different labels (should not happen) joined with " | "."""
    combined = {}
    for part in COMPONENTS:
        labels = list(dict.fromkeys(run.get(part, "unknown: not recorded") for run in per_run))
        combined[part] = " | ".join(labels) if labels else "unknown: not recorded"
    return combined


def _watts(value: Any) -> str:
    return f"{float(value):g} W"


def _ram_label(ram: Any) -> str:
    forced = getattr(ram, "_force_ram_power", None)
    if forced is not None:
        return f"constant: forced {_watts(forced)} (force_ram_power)"
    scope = "process RSS" if getattr(ram, "_tracking_mode", None) == "process" else "machine memory"
    return f"estimated: CodeCarbon RAM model (5 W per DIMM, 10 W min, of the {scope})"


def _cpu_label(cpu: Any, tracker: Any) -> str:
    mode = getattr(cpu, "_mode", None)
    if mode in _CPU_COUNTERS:
        return _CPU_COUNTERS[mode]
    tdp = getattr(cpu, "_tdp", None)
    if mode == "constant":
        return f"estimated: CodeCarbon constant, half of a {_watts(tdp or 0)} TDP"
    if mode != "cpu_load":
        return f"unknown: CodeCarbon CPU mode {mode!r}"
    load = ("process CPU time share" if getattr(cpu, "_tracking_mode", None) == "process"
            else "machine CPU load")
    forced = getattr(tracker, "_force_cpu_power", None)
    if forced is not None and tdp is not None and float(tdp) == float(forced):
        origin = f"forced {_watts(forced)} (force_cpu_power)"
    elif getattr(cpu, "_is_generic_tdp", False):
        origin = f"generic {_watts(tdp)}"
    elif _in_tdp_table(getattr(cpu, "_model", None)):
        origin = f"TDP table {_watts(tdp)}"
    else:
        origin = f"{_watts(tdp)} = 4 W per thread, CPU not in the TDP table"
    return f"estimated: CodeCarbon CPU load model ({load} x {origin})"


@functools.lru_cache(maxsize=8)
def _in_tdp_table(model: str | None) -> bool:
    """Whether CodeCarbon's TDP table knows this CPU model (as its own lookup decides)."""
    if not model:
        return False
    try:
        from codecarbon.core import cpu as cc_cpu
        from codecarbon.core.hardware_cache import get_cached_tdp

        return get_cached_tdp(cc_cpu)._get_cpu_power_from_registry(model) is not None
    except Exception:  # noqa: BLE001 - private API: the label then says "not in the table"
        return False


def _gpu_label(gpu: Any) -> str:
    devices = getattr(getattr(gpu, "devices", None), "devices", None)
    if devices is None:
        return "unknown: CodeCarbon GPU object without devices"
    tracked = getattr(gpu, "gpu_ids", None)
    if tracked is not None:
        devices = [d for d in devices if getattr(d, "gpu_index", None) in tracked]
    if not devices:
        return ABSENT
    labels = []
    for device in devices:
        backend = _GPU_BACKENDS.get(type(device).__name__, type(device).__name__)
        how = "power readings" if getattr(device, "_use_power_fallback", False) else "energy counter"
        labels.append(f"measured: {backend} {how}")
    return " | ".join(dict.fromkeys(labels))
