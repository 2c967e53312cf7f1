"""The compute dtype of a device, decided in one place for every stage.

Libraries pick a dtype of their own when none is given (GPTQModel takes bfloat16 on any CPU).
On a CPU without native bfloat16 (AVX2 only: no AVX512_BF16, no AMX) bfloat16 is emulated and
a matmul runs two orders of magnitude slower than in float32, so latency and energy would
measure the emulation rather than the model. Every stage therefore resolves its dtype here and
passes it explicitly:

- CPU: bfloat16 only where the CPU computes it natively, float32 otherwise;
- CUDA: bfloat16 where the GPU supports it, float16 otherwise.

The CPU check follows what PyTorch and oneDNN will actually dispatch to, so
``ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2`` makes a newer CPU behave (and be
reported) as an AVX2-only one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

# x86 feature flags (/proc/cpuinfo) under which bfloat16 matmuls run in hardware
NATIVE_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
# ATen dispatch levels that can use those instructions; AVX2 and DEFAULT cannot
BF16_CAPABLE_DISPATCH = ("AVX512",)
HALF_DTYPES = ("bfloat16", "float16")
DTYPES = ("float32", "bfloat16", "float16")


@dataclass(frozen=True)
class CpuReport:
    """What the CPU offers for bfloat16, as PyTorch and oneDNN will use it."""

    capability: str  # torch.backends.cpu.get_cpu_capability(): AVX2, AVX512, ...
    bf16_flags: tuple[str, ...]  # the native-bf16 feature flags the CPU lists
    onednn_bf16: bool  # oneDNN would run bf16 kernels (false when ONEDNN_MAX_CPU_ISA caps it)

    @property
    def native_bf16(self) -> bool:
        return bool(self.bf16_flags) and self.onednn_bf16 and (
            self.capability in BF16_CAPABLE_DISPATCH)

    def as_record(self) -> dict[str, object]:
        return {"cpu_capability": self.capability, "cpu_native_bf16": self.native_bf16,
                "cpu_bf16_flags": list(self.bf16_flags)}


def _cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return set(line.split(":", 1)[1].split())
    return set()


@lru_cache(maxsize=1)
def cpu_report() -> CpuReport:
    import torch

    capability = torch.backends.cpu.get_cpu_capability()
    try:
        onednn_bf16 = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # builds without oneDNN
        onednn_bf16 = False
    flags = _cpu_flags()
    return CpuReport(capability=capability,
                     bf16_flags=tuple(f for f in NATIVE_BF16_CPU_FLAGS if f in flags),
                     onednn_bf16=onednn_bf16)


def cuda_supports_bf16() -> bool:
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def device_compute_dtype(device: str, cpu: CpuReport | None = None,
                         cuda_bf16: bool | None = None) -> str:
    """The fastest dtype the device computes natively, short of quantization."""
    if device == "cuda":
        return "bfloat16" if (cuda_supports_bf16() if cuda_bf16 is None else cuda_bf16) \
            else "float16"
    if device == "cpu":
        return "bfloat16" if (cpu or cpu_report()).native_bf16 else "float32"
    raise ValueError(f"unknown device {device!r}: expected cpu or cuda")


def is_slow_on(dtype: str, device: str, cpu: CpuReport | None = None) -> bool:
    """Whether ``dtype`` is emulated on ``device`` (half precision on a CPU without it)."""
    if device != "cpu" or dtype not in HALF_DTYPES:
        return False
    # float16 matmuls have no fast path on x86 CPUs short of AVX512_FP16/AMX_FP16, which this
    # check does not look for: treat them as emulated
    return dtype == "float16" or not (cpu or cpu_report()).native_bf16


def _runs_natively(dtype: str, device: str, cpu: CpuReport | None,
                   cuda_bf16: bool | None) -> bool:
    if device == "cuda" and dtype == "bfloat16":
        return cuda_supports_bf16() if cuda_bf16 is None else cuda_bf16
    return not is_slow_on(dtype, device, cpu)


@dataclass(frozen=True)
class DtypeChoice:
    dtype: str
    reason: str
    warning: str | None = None


def resolve(requested: str, device: str, *, key: str, checkpoint_dtype: str | None = None,
            quantized: bool = False, cpu: CpuReport | None = None,
            cuda_bf16: bool | None = None) -> DtypeChoice:
    """The dtype a stage computes in.

    ``requested`` is the variant's ``dtype`` (``auto`` or an explicit name, honoured with a
    warning naming ``key`` when it is emulated on the device). ``auto`` resolves to the
    device's compute dtype for quantized models (their non-quantized parts and activations)
    and, for unquantized ones, to the checkpoint's own dtype unless the device would emulate
    it, in which case the device's compute dtype is used.
    """
    if requested not in ("auto", *DTYPES):
        raise ValueError(f"config key '{key}': unknown dtype {requested!r}; expected auto or "
                         f"one of {', '.join(DTYPES)}")
    if requested != "auto":
        warning = None
        if is_slow_on(requested, device, cpu):
            report = cpu or cpu_report()
            warning = (f"config key '{key}': {requested} on this CPU (capability "
                       f"{report.capability}, native bf16: {report.native_bf16}) is emulated and "
                       f"far slower than float32; latency and energy will measure the emulation. "
                       f"Use dtype: auto or float32 on such CPUs")
            log.warning(warning)
        return DtypeChoice(requested, "explicit", warning)
    device_dtype = device_compute_dtype(device, cpu, cuda_bf16)
    if quantized:
        return DtypeChoice(device_dtype, f"auto: compute dtype of {device}")
    if checkpoint_dtype in DTYPES:
        if _runs_natively(checkpoint_dtype, device, cpu, cuda_bf16):
            return DtypeChoice(checkpoint_dtype, "auto: the checkpoint's dtype")
        return DtypeChoice(device_dtype, f"auto: the checkpoint's {checkpoint_dtype} is not "
                                         f"native on {device}")
    return DtypeChoice("float32", "auto: checkpoint dtype unknown")


def torch_dtype(name: str):
    import torch

    return getattr(torch, name)
