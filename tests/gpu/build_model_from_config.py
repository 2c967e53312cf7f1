"""Build a randomly initialised causal language model from a config.json, for GPU checks.

Speed, memory, kernel choice and energy depend on a model's shapes, not on what its weights
learned, so a GPU node with no hub access can exercise the CUDA code paths of the workflow on a
model of any size built here. Quality figures of such a model sit at chance level: they only
show that the quality stage runs.

    python tests/gpu/build_model_from_config.py CONFIG_JSON TOKENIZER_DIR OUT_DIR [--dtype D]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path


def build(config_json: Path, tokenizer_dir: Path, out: Path, dtype: str, seed: int) -> Path:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    if (out / "config.json").is_file():
        print(f"{out} exists, kept", file=sys.stderr)
        return out
    torch.manual_seed(seed)
    config = AutoConfig.from_pretrained(config_json)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    if len(tokenizer) > config.vocab_size:
        raise SystemExit(f"{tokenizer_dir}: the tokenizer has {len(tokenizer)} tokens, more than "
                         f"vocab_size {config.vocab_size} in {config_json}")
    model = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype))
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    os.replace(partial, out)  # the folder appears whole or not at all
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{out}: {n_params / 1e6:.1f} M parameters in {dtype}, seed {seed}", file=sys.stderr)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config_json", type=Path)
    parser.add_argument("tokenizer_dir", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    build(args.config_json, args.tokenizer_dir, args.out, args.dtype, args.seed)


if __name__ == "__main__":
    main()
