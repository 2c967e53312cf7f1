"""Token-level perplexity over fixed-length windows (the GPTQ paper's convention).

The text is tokenized once (with the tokenizer's special tokens, so LLaMA-style models get one
BOS at the start, as in the GPTQ evaluation code). Windows of ``context_tokens`` start every
``stride`` tokens; a token is scored at most once, by the first window that predicts it. With
non-overlapping windows (stride = context_tokens, the default) the first token of each window
only serves as context, as in the GPTQ evaluation. Log-probabilities are accumulated in
float32 whatever the model's dtype.

Beside the perplexity, the NLL summed over each block of BLOCK_TOKENS consecutive scored tokens
and a fingerprint of the scored tokens: two variants of one model score the same tokens, so
their perplexities can be compared pairwise, block by block (llm_footprint.significance).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

# the hub dataset of token-level perplexity when no local text is given: WikiText-2 raw, test
WIKITEXT_HUB = ("Salesforce/wikitext", "wikitext-2-raw-v1", "test")

# scored tokens per block of the paired comparison: neighbouring tokens' NLLs correlate, blocks
# of 64 far less, and the demo's 2,572 tokens still give 40 blocks
BLOCK_TOKENS = 64

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


def window_nll(model: Any, input_ids: Any, windows: list[Window],
               token_nlls: list[float] | None = None) -> tuple[float, int, float]:
    """Summed negative log-likelihood (float32), scored-token count and summed squared
    per-token NLL of a batch of windows; each scored token's NLL appended to ``token_nlls``."""
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
        if token_nlls is not None:
            token_nlls.extend(token_nll.flatten().tolist())
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
                     batch_size: int = 1, pairing: bool = False) -> dict[str, Any]:
    """``pairing``: also the block NLLs and the scored tokens' fingerprint (the quality stage;
    the fixed workload, inside an energy window, does without that extra work)."""
    import torch

    input_ids = torch.tensor(tokenizer(text)["input_ids"], dtype=torch.long)
    windows = plan_windows(len(input_ids), context_tokens, stride, max_windows)
    if not windows:
        raise ValueError("the perplexity text has fewer than two tokens")
    started = time.monotonic()
    nll_total, squares_total, scored = 0.0, 0.0, 0
    token_nlls: list[float] | None = [] if pairing else None
    for first in range(0, len(windows), batch_size):
        chunk = windows[first : first + batch_size]
        nll, count, squares = window_nll(model, input_ids, chunk, token_nlls)
        nll_total += nll
        squares_total += squares
        scored += count
        log.info("perplexity: window %d/%d, running perplexity %.3f",
                 min(first + batch_size, len(windows)), len(windows), math.exp(nll_total / scored))
    perplexity = math.exp(nll_total / scored)
    paired = {} if token_nlls is None else {
        # the last block's tokens (fewer than BLOCK_TOKENS) count in the perplexity only
        "block_tokens": BLOCK_TOKENS,
        "block_nll_nats": [math.fsum(token_nlls[i : i + BLOCK_TOKENS])
                           for i in range(0, len(token_nlls) - BLOCK_TOKENS + 1, BLOCK_TOKENS)],
        "scored_tokens_fingerprint": scored_tokens_fingerprint(input_ids, windows),
    }
    return {
        "token_perplexity": perplexity,
        "token_perplexity_stderr": perplexity_stderr(perplexity, nll_total, squares_total, scored),
        "nll_sum_nats": nll_total,
        "tokens_scored": scored,
        **paired,
        "tokens_in_text": int(len(input_ids)),
        "windows": len(windows),
        "context_tokens": context_tokens,
        "stride": stride or context_tokens,
        "wall_time_s": round(time.monotonic() - started, 3),
    }


def scored_tokens_fingerprint(input_ids: Any, windows: list[Window]) -> str:
    """sha256 of the token ids and of which of them each window scores: equal for two runs
    exactly when their blocks hold the same tokens."""
    spans = [(w.begin, w.scored_from, w.end) for w in windows]
    text = json.dumps([[int(t) for t in input_ids.tolist()], spans], separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
