"""Benchmark: the fidelity ladder, every method beside its naive baseline, in one run.

On the demo model, each method compresses the same prepared model with the demo's own
settings (config.yaml: 4 bits, group size 64, symmetric; the demo's calibration texts) and the
workflow's quality stage scores it (token perplexity on the demo's wikitext text, the 50
MMLU-style items). Printed side by side: method, settings, token perplexity, MMLU accuracy,
size on disk, compression wall time. Quantizers are read against rtn (same bits, group size,
sym and file format), pruners against magnitude (same structure, same layers). AWQ joins with
--with-awq: its clipping search takes about a minute per decoder block on 2 CPU cores (30 for
this model); tests/test_method_awq_gguf.py compares it with rtn on the model's first block.

    .venv/bin/python benchmarks/fidelity_ladder.py [--threads 2] [--only rtn-4bit,gptq-4bit]
                                                  [--with-awq]

To see an AVX2-only CPU on a newer one (every stage then computes in float32):

    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 .venv/bin/python benchmarks/fidelity_ladder.py
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

import yaml  # noqa: E402

from demo_model import demo_model_dir  # noqa: E402
from llm_footprint import compression  # noqa: E402
from llm_footprint.quality.evaluate import evaluate_checkpoint  # noqa: E402
from llm_footprint.study import load_study  # noqa: E402

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def ladder_variants(demo: dict, with_awq: bool) -> dict[str, dict]:
    """The rungs, named as variants, with the demo's settings and calibration."""
    variants = demo["variants"]
    gptq = variants["gptq-4bit"]
    calibration = gptq["calibration"]
    same = {"bits": gptq["bits"], "group_size": gptq["group_size"]}
    rungs = {
        "full": variants["full"],
        "rtn-4bit": {"method": "rtn", **same, "sym": gptq["sym"]},
        "gptq-4bit": gptq,
        "bnb-nf4": variants["bnb-nf4"],
        "magnitude-2of4": {"method": "magnitude", "structure": "2:4"},
        "sparsegpt-2of4": variants["sparsegpt-2of4"],
    }
    if with_awq:
        rungs["awq-4bit"] = {"method": "awq", **same, "sym": gptq["sym"],
                             "calibration": calibration}
    rungs["gguf-q4_k_m"] = {"method": "gguf", "type": "Q4_K_M"}
    return rungs


def settings(variant: dict) -> str:
    keys = ("bits", "group_size", "sym", "quant_type", "structure", "type")
    text = ", ".join(f"{k} {variant[k]}" for k in keys if variant.get(k) is not None)
    calibration = variant.get("calibration")
    if calibration and compression.method(variant["method"]).needs_calibration:
        text += f", {calibration['n_samples']} calibration texts"
    return text or "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", help="a prepared demo model (default: prepared now)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", help="comma-separated rung ids")
    parser.add_argument("--with-awq", action="store_true", help="add AWQ (about 30 min)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    demo = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    rungs = ladder_variants(demo, args.with_awq)
    if args.only:
        rungs = {k: v for k, v in rungs.items() if k in args.only.split(",")}
    config = copy.deepcopy(demo)
    config["variants"] = rungs
    config["quality"]["tasks"] = [t for t in config["quality"]["tasks"]
                                  if t["name"] in ("wikitext", "mmlu")]
    study = load_study(config, SCHEMA, search_dirs=[REPO])
    setup_id = next(iter(study.config["setups"]))
    setup = study.config["setups"][setup_id]
    prepared = demo_model_dir(args.model_dir)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for variant_id in rungs:
            variant = study.variant(variant_id)
            out = Path(scratch) / variant_id
            print(f">> {variant_id}: compressing ({settings(variant)})", flush=True)
            started = time.monotonic()
            summary = compression.compress("smollm2-135m", variant_id, variant, prepared, out,
                                           threads=args.threads)
            compress_s = time.monotonic() - started
            quality = evaluate_checkpoint("smollm2-135m", variant_id, out, study.config["quality"],
                                          setup_id, setup, None, Path(scratch) / f"{variant_id}.json",
                                          threads=args.threads)
            values = {(r["task"], r["metric"]): r["value"] for r in quality["rows"]}
            rows.append({"variant": variant_id, "method": variant["method"],
                         "settings": settings(variant),
                         "token_perplexity": values[("perplexity", "token_perplexity")],
                         "mmlu_acc": values.get(("mmlu", "acc")),
                         "size_on_disk_mb": summary["size_on_disk_mb"],
                         "compress_wall_time_s": compress_s})
    print("\nfidelity ladder on the demo model (SmolLM2-135M-Instruct), one run:")
    print(f"{'variant':16} {'method':10} {'settings':44} {'token ppl':>10} {'MMLU acc':>9} "
          f"{'size MB':>8} {'compress s':>11}")
    for row in rows:
        mmlu = "-" if row["mmlu_acc"] is None else f"{row['mmlu_acc']:.2f}"
        print(f"{row['variant']:16} {row['method']:10} {row['settings']:44} "
              f"{row['token_perplexity']:10.2f} {mmlu:>9} {row['size_on_disk_mb']:8.1f} "
              f"{row['compress_wall_time_s']:11.1f}")
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
