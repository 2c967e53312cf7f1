"""Benchmark: GPTQ wall time of the demo's 4-bit variant in the resolved dtype vs bfloat16.

Both quantizations run in one process, one after the other, on the same prepared model with
the same shortened calibration. The resolved dtype is what `dtype: auto` gives on this CPU
(llm_footprint.compute_dtype): float32 on an AVX2-only CPU, where bfloat16 is emulated, and
bfloat16 where the CPU computes it natively (the ratio is then about 1). To see an AVX2-only
CPU on a newer one:

    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 .venv/bin/python benchmarks/gptq_dtype.py

    .venv/bin/python benchmarks/gptq_dtype.py [--samples 32] [--max-tokens 256] [--threads 2]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

import yaml  # noqa: E402

from demo_model import demo_model_dir  # noqa: E402
from llm_footprint import compute_dtype  # noqa: E402
from llm_footprint.compress import compress  # noqa: E402
from llm_footprint.study import load_study  # noqa: E402


def demo_variant(samples: int, max_tokens: int, dtype: str) -> dict:
    config = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    study = load_study(config, REPO / "workflow" / "schemas" / "config.schema.yaml",
                       search_dirs=[REPO])
    variant = dict(study.variant("gptq-4bit"))
    variant["calibration"] = {**variant["calibration"], "n_samples": samples,
                              "max_tokens": max_tokens}
    variant["dtype"] = dtype
    return variant


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir")
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    report = compute_dtype.cpu_report()
    resolved = compute_dtype.device_compute_dtype("cpu")
    print(f"CPU capability {report.capability}, native bf16: {report.native_bf16} "
          f"(flags {', '.join(report.bf16_flags) or 'none'}); dtype auto resolves to {resolved}")
    model = demo_model_dir(args.model_dir)
    seconds = {}
    with tempfile.TemporaryDirectory() as scratch:
        for label, dtype in (("resolved", "auto"), ("bfloat16", "bfloat16")):
            summary = compress("smollm2-135m", "gptq-4bit",
                               demo_variant(args.samples, args.max_tokens, dtype), model,
                               Path(scratch) / label, device="cpu", threads=args.threads)
            seconds[label] = summary["quantize_time_s"]
            print(f"GPTQ 4-bit g64, {args.samples} texts x <= {args.max_tokens} tokens, "
                  f"{summary['compute_dtype']:>8}: {seconds[label]:8.1f} s")
    print(f"bfloat16 / {resolved} wall-time ratio: {seconds['bfloat16'] / seconds['resolved']:.2f}")


if __name__ == "__main__":
    main()
