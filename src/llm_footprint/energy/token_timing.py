"""Time to first token and inter-token latency of a ``generate`` call, and their percentiles.

``TokenTimer`` is a transformers streamer: ``generate`` hands it the prompt first, then each new
token as soon as it is on the host (``StopCheck`` copies it with ``.cpu()``, which waits for the
device, on CPU and CUDA; transformers 5 defers that copy by one step only on Apple's MPS). The
first token's time since the request began (tokenization included) is the time to first token
(prefill and the first decoding step); the gaps between later tokens are the inter-token
latencies (decode).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from .stats import percentile


class TokenTimer:
    """Timestamps of the new tokens of one request (batch of one); ``begin()`` before each.

    Duck-typed as transformers' ``BaseStreamer`` (``put`` and ``end``), which ``generate`` does
    not check, so that importing this module does not import transformers.
    """

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self.begin()

    def begin(self) -> None:
        self.started = self.clock()
        self.token_times: list[float] = []
        self._prompt_seen = False

    def put(self, value: Any) -> None:
        now = self.clock()
        if not self._prompt_seen:  # generate() first streams the prompt's ids
            self._prompt_seen = True
            return
        count = int(value.numel()) if hasattr(value, "numel") else len(value)
        self.token_times.extend([now] * max(1, count))  # several at once: assisted decoding

    def end(self) -> None:
        pass

    def timings(self) -> dict[str, Any]:
        """ttft_s, itl_mean_s and the gaps itl_s (s); None when no token came."""
        if not self.token_times:
            return {"ttft_s": None, "itl_mean_s": None, "itl_s": []}
        gaps = [round(b - a, 6) for a, b in zip(self.token_times, self.token_times[1:])]
        return {"ttft_s": round(self.token_times[0] - self.started, 6),
                "itl_mean_s": round(sum(gaps) / len(gaps), 6) if gaps else None,
                "itl_s": gaps}


TIMING_FIGURES = ("ttft_p50_s", "ttft_p90_s", "itl_p50_s", "itl_p90_s")


def token_latency_figures(requests: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    """Percentiles of the requests' times to first token, and of all their inter-token gaps."""
    ttft = [r["ttft_s"] for r in requests if r.get("ttft_s") is not None]
    gaps = [gap for r in requests for gap in (r.get("itl_s") or [])]
    return {
        "ttft_p50_s": percentile(ttft, 50) if ttft else None,
        "ttft_p90_s": percentile(ttft, 90) if ttft else None,
        "itl_p50_s": percentile(gaps, 50) if gaps else None,
        "itl_p90_s": percentile(gaps, 90) if gaps else None,
    }
