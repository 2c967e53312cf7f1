"""What produced a result: library versions, hardware, workflow commit, time.

Every result file of the workflow embeds ``collect()`` under the key ``provenance`` together
with the config section and seed that produced it.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import socket
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

# The libraries whose versions change the numbers this workflow reports.
TRACKED_PACKAGES = (
    "llm-footprint", "torch", "transformers", "gptqmodel", "optimum", "accelerate", "lm_eval",
    "codecarbon", "datasets", "snakemake", "snakemake-executor-plugin-slurm", "numpy", "pandas",
    "safetensors", "huggingface_hub", "bitsandbytes", "gguf", "nvidia-ml-py",
)


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_total_gb() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024**2, 2)
    except OSError:
        pass
    return None


def gpus() -> list[dict[str, Any]]:
    """The CUDA devices this process sees (empty without torch or CUDA)."""
    try:
        import torch
    except ImportError:
        return []
    if not torch.cuda.is_available():
        return []
    found = []
    for index in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(index)
        found.append({
            "index": index,
            "name": props.name,
            "memory_gb": round(props.total_memory / 1024**3, 2),
            "capability": f"{props.major}.{props.minor}",
        })
    return found


def hardware() -> dict[str, Any]:
    return {
        "hostname": socket.gethostname(),
        "cpu_model": cpu_model(),
        "cpu_count_logical": os.cpu_count(),
        "cpu_affinity_count": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_total_gb": memory_total_gb(),
        "gpus": gpus(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        "slurm_partition": os.environ.get("SLURM_JOB_PARTITION"),
    }


@lru_cache(maxsize=1)
def workflow_commit() -> dict[str, Any]:
    """The git commit of the workflow's own checkout, if it is one."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                     "--untracked-files=no"], capture_output=True, text=True,
                                    timeout=10, check=True).stdout.strip())
        return {"commit": commit, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def collect(**extra: Any) -> dict[str, Any]:
    """Provenance of a result; ``extra`` adds the config section, seed and the like."""
    record = {
        "created_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": package_versions(),
        "hardware": hardware(),
        "workflow": workflow_commit(),
    }
    record.update(extra)
    return record
