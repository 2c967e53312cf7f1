"""Replay a prompt schedule in real time: sleep until each arrival, serve, record.

Requests are served one at a time, as by a single-stream server. When the model falls behind,
a late request is served at once and its lag (start minus arrival) is recorded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from .token_timing import TokenTimer

log = logging.getLogger(__name__)

# generate(prompt, request_index) -> (input_tokens, output_tokens, response_text[, timings]);
# timings: ttft_s, itl_mean_s and itl_s (the inter-token gaps) from token_timing.TokenTimer
Generate = Callable[[str, int], tuple[Any, ...]]


def replay(requests: Sequence[dict[str, Any]], generate: Generate, window_s: float,
           clock: Callable[[], float] = time.monotonic,
           sleep: Callable[[float], None] = time.sleep) -> tuple[list[dict[str, Any]], float]:
    """Serve ``requests`` at their ``arrival_s`` and idle to the end of the window.

    Returns the request records and the elapsed time of the whole replay (s).
    """
    records = []
    started = clock()
    for number, request in enumerate(requests, start=1):
        due = started + request["arrival_s"]
        now = clock()
        if now < due:
            sleep(due - now)
        begin = clock()
        result = generate(request["prompt"], request["index"])
        end = clock()
        input_tokens, output_tokens, response = result[:3]
        timings = result[3] if len(result) > 3 else {}
        record = {
            "index": request["index"],
            "arrival_s": request["arrival_s"],
            "start_s": round(begin - started, 6),
            "end_s": round(end - started, 6),
            "lag_s": round(max(0.0, begin - due), 6),
            "latency_s": round(end - begin, 6),
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "ttft_s": timings.get("ttft_s"),
            "itl_mean_s": timings.get("itl_mean_s"),
            "itl_s": timings.get("itl_s", []),
            "response": response,
        }
        records.append(record)
        log.info("request %d/%d at %.1f s: %d -> %d tokens in %.2f s (lag %.2f s)", number,
                 len(requests), record["start_s"], input_tokens, output_tokens,
                 record["latency_s"], record["lag_s"])
    remaining = started + window_s - clock()
    if remaining > 0:
        sleep(remaining)
    return records, clock() - started


def make_generate(model: Any, tokenizer: Any, generation: dict[str, Any],
                  device: str) -> Generate:
    """A generate function with the study's decoding settings, seeded per request."""
    import torch

    target = "cuda:0" if device == "cuda" else "cpu"
    options: dict[str, Any] = {"max_new_tokens": generation["max_new_tokens"],
                               "pad_token_id": tokenizer.pad_token_id}
    if generation["do_sample"] is not None:
        options["do_sample"] = generation["do_sample"]

    timer = TokenTimer()

    def generate(prompt: str, index: int) -> tuple[int, int, str, dict[str, Any]]:
        timer.begin()
        if generation["apply_chat_template"]:
            inputs = tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                                   add_generation_prompt=True,
                                                   return_tensors="pt", return_dict=True)
        else:
            inputs = tokenizer(prompt, return_tensors="pt")
        inputs = {k: v.to(target) for k, v in inputs.items()}
        torch.manual_seed(generation["seed"] + index)
        with torch.inference_mode():
            output = model.generate(**inputs, **options, streamer=timer)
        new_tokens = output[0, inputs["input_ids"].shape[1]:].tolist()  # .tolist() syncs the GPU
        return (int(inputs["input_ids"].shape[1]), len(new_tokens),
                tokenizer.decode(new_tokens, skip_special_tokens=True), timer.timings())

    return generate
