"""Benchmark: token-level perplexity through the workflow's code vs a bare torch forward loop.

Both score the same tokens of the demo's WikiText-style text with the demo model, in the same
process, alternating A/B so that drift of the machine hits both alike. Prints both times and
their ratio (goal: workflow / bare <= 1.25) and checks that both give the same perplexity.

    .venv/bin/python benchmarks/perplexity_overhead.py [--model-dir DIR] [--context 1024] [--rounds 3]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

from demo_model import load_demo_model  # noqa: E402
from llm_footprint.quality.perplexity import token_perplexity  # noqa: E402

TEXT = REPO / "data" / "demo" / "quality" / "wikitext_style.txt"


def bare_loop(model, input_ids, context: int) -> tuple[float, int]:
    """Disjoint windows, plain cross-entropy in float32: the minimum any implementation does."""
    import torch

    nll, count = 0.0, 0
    with torch.inference_mode():
        for begin in range(0, input_ids.numel(), context):
            window = input_ids[begin:begin + context].unsqueeze(0)
            if window.shape[1] < 2:
                continue
            logits = model(window).logits[0, :-1].float()
            nll += float(torch.nn.functional.cross_entropy(logits, window[0, 1:], reduction="sum"))
            count += window.shape[1] - 1
    return nll, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir")
    parser.add_argument("--context", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    model, tokenizer = load_demo_model(args.model_dir, args.threads)
    text = TEXT.read_text(encoding="utf-8")
    input_ids = torch.tensor(tokenizer(text)["input_ids"])
    bare_loop(model, input_ids[: args.context], args.context)  # warm-up

    workflow_s, bare_s = [], []
    for _ in range(args.rounds):
        started = time.perf_counter()
        result = token_perplexity(model, tokenizer, text, args.context)
        workflow_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        nll, count = bare_loop(model, input_ids, args.context)
        bare_s.append(time.perf_counter() - started)

    bare_ppl = math.exp(nll / count)
    ratio = statistics.median(workflow_s) / statistics.median(bare_s)
    print(f"text: {TEXT.name}, {input_ids.numel()} tokens, context {args.context}, "
          f"{args.threads} threads, {args.rounds} rounds")
    print(f"workflow token_perplexity: median {statistics.median(workflow_s):.3f} s "
          f"(runs {', '.join(f'{t:.3f}' for t in workflow_s)}), perplexity {result['token_perplexity']:.4f}, "
          f"{result['tokens_scored']} tokens scored")
    print(f"bare torch forward loop:   median {statistics.median(bare_s):.3f} s "
          f"(runs {', '.join(f'{t:.3f}' for t in bare_s)}), perplexity {bare_ppl:.4f}, {count} tokens scored")
    print(f"ratio workflow/bare: {ratio:.3f} (goal <= 1.25)")
    if abs(result["token_perplexity"] - bare_ppl) > 1e-3 * bare_ppl:
        raise SystemExit("the two computations disagree")


if __name__ == "__main__":
    main()
