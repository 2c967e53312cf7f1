"""The one place that decides a device's compute dtype (CPU capability reports are made up)."""

from __future__ import annotations

import logging

import pytest

from llm_footprint import compute_dtype
from llm_footprint.compute_dtype import CpuReport, device_compute_dtype, resolve

AVX2 = CpuReport(capability="AVX2", bf16_flags=(), onednn_bf16=False)
SAPPHIRE_RAPIDS = CpuReport(capability="AVX512", bf16_flags=("avx512_bf16", "amx_bf16"),
                            onednn_bf16=True)
# a bf16-capable CPU run with ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2
CAPPED_TO_AVX2 = CpuReport(capability="AVX2", bf16_flags=("avx512_bf16",), onednn_bf16=False)
# AVX-512 without its bf16 extension (Skylake-SP): oneDNN has kernels, the CPU has no bf16 unit
SKYLAKE = CpuReport(capability="AVX512", bf16_flags=(), onednn_bf16=True)


@pytest.mark.parametrize("cpu, expected", [
    (AVX2, "float32"), (SAPPHIRE_RAPIDS, "bfloat16"), (CAPPED_TO_AVX2, "float32"),
    (SKYLAKE, "float32"),
])
def test_cpu_computes_bfloat16_only_where_it_is_native(cpu, expected):
    assert device_compute_dtype("cpu", cpu=cpu) == expected


@pytest.mark.parametrize("cuda_bf16, expected", [(True, "bfloat16"), (False, "float16")])
def test_cuda_computes_bfloat16_where_the_gpu_supports_it(cuda_bf16, expected):
    assert device_compute_dtype("cuda", cuda_bf16=cuda_bf16) == expected


def test_quantized_auto_follows_the_device():
    assert resolve("auto", "cpu", key="k", quantized=True, cpu=AVX2).dtype == "float32"
    assert resolve("auto", "cpu", key="k", quantized=True, cpu=SAPPHIRE_RAPIDS).dtype == "bfloat16"
    assert resolve("auto", "cuda", key="k", quantized=True, cuda_bf16=False).dtype == "float16"


@pytest.mark.parametrize("checkpoint, cpu, expected", [
    ("bfloat16", AVX2, "float32"),          # emulated: computed in float32 instead
    ("bfloat16", SAPPHIRE_RAPIDS, "bfloat16"),
    ("float16", SAPPHIRE_RAPIDS, "bfloat16"),  # no fast float16 path on x86 CPUs
    ("float32", SAPPHIRE_RAPIDS, "float32"),   # full precision stays full precision
    (None, AVX2, "float32"),
])
def test_unquantized_auto_keeps_the_checkpoint_dtype_unless_emulated(checkpoint, cpu, expected):
    assert resolve("auto", "cpu", key="k", checkpoint_dtype=checkpoint, cpu=cpu).dtype == expected


def test_bfloat16_checkpoint_on_a_gpu_without_bfloat16_runs_in_float16():
    choice = resolve("auto", "cuda", key="k", checkpoint_dtype="bfloat16", cuda_bf16=False)
    assert choice.dtype == "float16"
    assert resolve("auto", "cuda", key="k", checkpoint_dtype="float16", cuda_bf16=True).dtype \
        == "float16"


def test_explicit_bfloat16_on_an_avx2_cpu_is_honoured_with_a_warning_naming_the_key(caplog):
    with caplog.at_level(logging.WARNING, logger="llm_footprint.compute_dtype"):
        choice = resolve("bfloat16", "cpu", key="variants.gptq-4bit.dtype", cpu=AVX2)
    assert choice.dtype == "bfloat16" and choice.reason == "explicit"
    assert "variants.gptq-4bit.dtype" in choice.warning and "AVX2" in choice.warning
    assert "variants.gptq-4bit.dtype" in caplog.text


def test_explicit_dtype_where_it_is_native_gives_no_warning():
    assert resolve("bfloat16", "cpu", key="k", cpu=SAPPHIRE_RAPIDS).warning is None
    assert resolve("float16", "cuda", key="k", cuda_bf16=False).warning is None
    assert resolve("float32", "cpu", key="k", cpu=AVX2).warning is None


def test_unknown_dtype_names_the_key():
    with pytest.raises(ValueError, match="variants.full.dtype"):
        resolve("float8", "cpu", key="variants.full.dtype", cpu=AVX2)


def test_report_of_this_machine_is_consistent(monkeypatch):
    report = compute_dtype.cpu_report()
    record = report.as_record()
    assert record["cpu_capability"] == report.capability and report.capability
    assert record["cpu_native_bf16"] == (device_compute_dtype("cpu") == "bfloat16")


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16\n")
    assert {"avx2", "avx512_bf16"} <= compute_dtype._cpu_flags(cpuinfo)
    assert compute_dtype._cpu_flags(tmp_path / "missing") == set()
