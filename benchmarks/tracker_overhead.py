"""Benchmark: generation throughput with CodeCarbon tracking at 1 s sampling vs without.

Same model, same prompts, same number of new tokens (forced, so both sides decode exactly the
same amount), in one process, alternating untracked and tracked rounds so that drift of the
machine hits both alike. Prints tokens/s of each side and the loss (goal: <= 2 %).

    .venv/bin/python benchmarks/tracker_overhead.py [--rounds 5] [--tokens 48] [--prompts 6]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

from demo_model import load_demo_model  # noqa: E402
from llm_footprint.energy.schedule import dailydialog_file_dialogues, detokenize  # noqa: E402
from llm_footprint.energy.tracker import CheckedTracker  # noqa: E402

PROMPTS = REPO / "data" / "demo" / "energy" / "dialogues.txt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=48)
    parser.add_argument("--prompts", type=int, default=6)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sampling-s", type=float, default=1.0)
    args = parser.parse_args()

    import torch

    model, tokenizer = load_demo_model(args.model_dir, args.threads)
    prompts = [detokenize(d[0]) for d in dailydialog_file_dialogues(PROMPTS)[: args.prompts]]
    inputs = [tokenizer(p, return_tensors="pt") for p in prompts]

    def generate_all() -> tuple[int, float]:
        started = time.perf_counter()
        tokens = 0
        with torch.inference_mode():
            for encoded in inputs:
                out = model.generate(**encoded, max_new_tokens=args.tokens,
                                     min_new_tokens=args.tokens, do_sample=False,
                                     pad_token_id=tokenizer.eos_token_id)
                tokens += out.shape[1] - encoded["input_ids"].shape[1]
        return tokens, time.perf_counter() - started

    generate_all()  # warm-up
    settings = {"country_iso_code": "BEL", "measure_power_secs": args.sampling_s,
                "tracking_mode": "process"}
    plain, tracked = [], []
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(args.rounds):
            tokens, seconds = generate_all()
            plain.append(tokens / seconds)
            tracker = CheckedTracker(Path(scratch), "emissions.csv", settings)
            tracker.start()
            tokens, seconds = generate_all()
            tracker.stop()
            tracked.append(tokens / seconds)

    plain_tps, tracked_tps = statistics.median(plain), statistics.median(tracked)
    print(f"{args.prompts} prompts x {args.tokens} new tokens, {args.threads} threads, "
          f"{args.rounds} rounds, CodeCarbon sampling every {args.sampling_s:g} s (process mode)")
    print(f"without tracker: median {plain_tps:.2f} tokens/s (runs {', '.join(f'{v:.2f}' for v in plain)})")
    print(f"with tracker:    median {tracked_tps:.2f} tokens/s (runs {', '.join(f'{v:.2f}' for v in tracked)})")
    print(f"ratio tracked/untracked: {tracked_tps / plain_tps:.4f}; "
          f"throughput loss {(1 - tracked_tps / plain_tps) * 100:.2f} % (goal <= 2 %)")


if __name__ == "__main__":
    main()
