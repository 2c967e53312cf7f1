"""Token-level perplexity over fixed-length windows (the GPTQ paper's convention).

The text is tokenized once (with the tokenizer's special tokens, so LLaMA-style models get one
BOS at the start, as in the GPTQ evaluation code). Windows of ``context_tokens`` start every
``stride`` tokens; a token is scored at most once, by the first window that predicts it. With
non-overlapping windows (stride = context_tokens, the default) the first token of each window
only serves as context, as in the GPTQ evaluation. Log-probabilities are accumulated in
float32 whatever the model's dtype.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

# the hub dataset of token-level perplexity when no local text is given: WikiText-2 raw, test
WIKITEXT_HUB = ("Salesforce/wikitext", "wikitext-2-raw-v1", "test")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Window:
    begin: int  # first token of the model's input
    end: int  # one past the last input token
    scored_from: int  # first token whose prediction counts (tokens before it only give context)


def plan_windows(n_tokens: int, context_tokens: int, stride: int | None = None,
                 max_windows: int | None = None) -> list[Window]:
    """Windows covering ``n_tokens``; no token is scored twice."""
    stride = stride or context_tokens
    if stride > context_tokens:
        raise ValueError(f"stride ({stride}) must not exceed context_tokens ({context_tokens})")
    windows: list[Window] = []
    scored_until = 1  # token 0 has no context and is never predicted
    begin = 0
    while scored_until < n_tokens:
        end = min(begin + context_tokens, n_tokens)
        windows.append(Window(begin, end, max(scored_until, begin + 1)))
        scored_until = end
        begin += stride
        if max_windows and len(windows) >= max_windows:
            break
    return windows


def window_nll(model: Any, input_ids: Any, windows: list[Window]) -> tuple[float, int, float]:
    """Summed negative log-likelihood (float32), scored-token count and summed squared
    per-token NLL of a batch of windows."""
    import torch

    lengths = [w.end - w.begin for w in windows]
    width = max(lengths)
    device = next(model.parameters()).device
    batch = torch.zeros((len(windows), width), dtype=torch.long)
    mask = torch.zeros((len(windows), width), dtype=torch.long)
    for row, window in enumerate(windows):
        batch[row, : lengths[row]] = input_ids[window.begin : window.end]
        mask[row, : lengths[row]] = 1
    with torch.inference_mode():
        logits = model(input_ids=batch.to(device), attention_mask=mask.to(device)).logits
    total = 0.0
    squares = 0.0
    count = 0
    for row, window in enumerate(windows):
        # logits at position p predict token p + 1
        first = window.scored_from - window.begin - 1
        last = lengths[row] - 1
        predictions = logits[row, first:last].float()
        targets = batch[row, first + 1 : last + 1].to(predictions.device)
        log_probs = torch.log_softmax(predictions, dim=-1)
        token_nll = -log_probs.gather(1, targets.unsqueeze(1)).double()
        total += float(token_nll.sum())
        squares += float((token_nll * token_nll).sum())
        count += int(targets.numel())
    return total, count, squares


def perplexity_stderr(perplexity: float, nll_sum: float, nll_squares: float,
                      tokens: int) -> float | None:
    """Standard error of the perplexity: the per-token NLLs' standard error of the mean, carried
    through exp() (delta method). Tokens are taken as independent draws, as lm-eval's standard
    errors take documents; neighbouring tokens correlate, so this is a lower bound. None for a
    single token."""
    if tokens < 2:
        return None
    mean = nll_sum / tokens
    variance = max(0.0, (nll_squares - tokens * mean * mean) / (tokens - 1))
    return perplexity * math.sqrt(variance / tokens)


def token_perplexity(model: Any, tokenizer: Any, text: str, context_tokens: int,
                     stride: int | None = None, max_windows: int | None = None,
                     batch_size: int = 1) -> dict[str, Any]:
    import torch

    input_ids = torch.tensor(tokenizer(text)["input_ids"], dtype=torch.long)
    windows = plan_windows(len(input_ids), context_tokens, stride, max_windows)
    if not windows:
        raise ValueError("the perplexity text has fewer than two tokens")
    started = time.monotonic()
    nll_total, squares_total, scored = 0.0, 0.0, 0
    for first in range(0, len(windows), batch_size):
        chunk = windows[first : first + batch_size]
        nll, count, squares = window_nll(model, input_ids, chunk)
        nll_total += nll
        squares_total += squares
        scored += count
        log.info("perplexity: window %d/%d, running perplexity %.3f",
                 min(first + batch_size, len(windows)), len(windows), math.exp(nll_total / scored))
    perplexity = math.exp(nll_total / scored)
    return {
        "token_perplexity": perplexity,
        "token_perplexity_stderr": perplexity_stderr(perplexity, nll_total, squares_total, scored),
        "nll_sum_nats": nll_total,
        "tokens_scored": scored,
        "tokens_in_text": int(len(input_ids)),
        "windows": len(windows),
        "context_tokens": context_tokens,
        "stride": stride or context_tokens,
        "wall_time_s": round(time.monotonic() - started, 3),
    }
