"""The pieces of work the scenarios measure: batched generation and a perplexity pass."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ...quality.perplexity import token_perplexity
from ..tracked_work import WorkResult


def _prompt_texts(tokenizer: Any, prompts: Sequence[str], chat: bool) -> list[str]:
    if not chat:
        return list(prompts)
    return [tokenizer.apply_chat_template([{"role": "user", "content": p}],
                                          add_generation_prompt=True, tokenize=False)
            for p in prompts]


def new_token_count(rows: Any, eos_token_id: int | None) -> int:
    """Tokens generated per row up to and including the first end-of-sequence token."""
    total = 0
    for row in rows.tolist():
        total += row.index(eos_token_id) + 1 if eos_token_id in row else len(row)
    return total


def make_batch_generate(model: Any, tokenizer: Any, generation: dict[str, Any], device: str,
                        fixed_length: bool) -> Callable[[Sequence[str], int], dict[str, Any]]:
    """generate(prompts, seed) for a batch of prompts, left-padded as decoder-only models need.

    With ``fixed_length`` every prompt gets exactly max_new_tokens new tokens, so that every
    variant does the same amount of work.
    """
    import torch

    target = "cuda:0" if device == "cuda" else "cpu"
    tokenizer.padding_side = "left"
    options: dict[str, Any] = {"max_new_tokens": generation["max_new_tokens"],
                               "pad_token_id": tokenizer.pad_token_id,
                               "do_sample": bool(generation["do_sample"])}
    if fixed_length:
        options["min_new_tokens"] = generation["max_new_tokens"]

    def generate(prompts: Sequence[str], seed: int) -> dict[str, Any]:
        texts = _prompt_texts(tokenizer, prompts, generation["apply_chat_template"])
        # a chat template already holds the special tokens it needs
        inputs = tokenizer(texts, return_tensors="pt", padding=True,
                           add_special_tokens=not generation["apply_chat_template"])
        inputs = {k: v.to(target) for k, v in inputs.items()}
        torch.manual_seed(seed)
        with torch.inference_mode():
            output = model.generate(**inputs, **options)
        new = output[:, inputs["input_ids"].shape[1]:].cpu()  # .cpu() waits for the GPU
        return {"tokens": new_token_count(new, None if fixed_length else tokenizer.eos_token_id),
                "input_tokens": int(inputs["attention_mask"].sum()), "sequences": len(prompts)}

    return generate


def generation_work(generate: Callable[[Sequence[str], int], dict[str, Any]],
                    prompts: Sequence[str], batch_size: int, seed: int) -> Callable[[], WorkResult]:
    """Every prompt once, in batches of ``batch_size``."""
    def work() -> WorkResult:
        totals = {"tokens": 0, "input_tokens": 0, "sequences": 0, "batches": 0}
        for first in range(0, len(prompts), batch_size):
            done = generate(prompts[first:first + batch_size], seed + first)
            for name in ("tokens", "input_tokens", "sequences"):
                totals[name] += done[name]
            totals["batches"] += 1
        return totals

    return work


def perplexity_work(model: Any, tokenizer: Any, text: str, settings: dict[str, Any],
                    batch_size: int, max_windows: int | None) -> Callable[[], WorkResult]:
    """Token-level perplexity over the study's perplexity text, the paper's fixed workload."""
    def work() -> WorkResult:
        result = token_perplexity(model, tokenizer, text, settings["context_tokens"],
                                  settings["stride"], max_windows or settings["max_windows"],
                                  batch_size)
        return {"tokens": result["tokens_scored"], "token_perplexity": result["token_perplexity"],
                "windows": result.get("windows")}

    return work
