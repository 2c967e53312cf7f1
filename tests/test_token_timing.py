"""Time to first token and inter-token latency: the streamer alone, the run figures, and a real
transformers generate on a tiny randomly initialised model (built from a config, no download)."""

from __future__ import annotations

import pytest

from llm_footprint.energy.replay import make_generate, replay
from llm_footprint.energy.token_timing import TokenTimer, token_latency_figures


class Ticks:
    def __init__(self, times):
        self.times = list(times)

    def __call__(self):
        return self.times.pop(0)


def test_timer_skips_the_prompt_and_times_each_token():
    # begin at 0; prompt streamed at 0.1; tokens at 0.5, 0.6 and 0.8
    timer = TokenTimer(clock=Ticks([0.0, 0.1, 0.5, 0.6, 0.8]))
    timer.put([101, 102, 103])
    for token in ([7], [8], [9]):
        timer.put(token)
    timer.end()
    timings = timer.timings()
    assert timings["ttft_s"] == pytest.approx(0.5)
    assert timings["itl_s"] == pytest.approx([0.1, 0.2])
    assert timings["itl_mean_s"] == pytest.approx(0.15)


def test_timer_starts_afresh_per_request_and_survives_no_token():
    timer = TokenTimer(clock=Ticks([0.0, 0.1, 0.3, 10.0, 10.2, 10.4]))
    timer.put([1])
    timer.put([2])
    assert timer.timings()["ttft_s"] == pytest.approx(0.3)
    timer.begin()  # 10.0
    timer.put([1])  # prompt, 10.2
    timer.put([5])  # 10.4
    assert timer.timings() == {"ttft_s": pytest.approx(0.4), "itl_mean_s": None, "itl_s": []}
    empty = TokenTimer(clock=Ticks([0.0]))
    assert empty.timings() == {"ttft_s": None, "itl_mean_s": None, "itl_s": []}


def test_run_figures_pool_the_gaps_of_all_requests():
    requests = [{"ttft_s": 0.2, "itl_s": [0.05, 0.05, 0.07]},
                {"ttft_s": 0.4, "itl_s": [0.06]},
                {"ttft_s": None, "itl_s": []}]  # a request that produced no token
    figures = token_latency_figures(requests)
    assert figures["ttft_p50_s"] == pytest.approx(0.3)
    assert figures["ttft_p90_s"] == pytest.approx(0.38)
    # gaps sorted: 0.05, 0.05, 0.06, 0.07 -> p50 0.055, p90 0.067
    assert figures["itl_p50_s"] == pytest.approx(0.055)
    assert figures["itl_p90_s"] == pytest.approx(0.067)
    assert token_latency_figures([{"latency_s": 1.0}])["ttft_p50_s"] is None


class StubTokenizer:
    pad_token_id = 0

    def __call__(self, prompt, return_tensors):
        import torch

        ids = torch.tensor([[1 + (ord(c) % 60) for c in prompt]])
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}

    def decode(self, tokens, skip_special_tokens=True):
        return " ".join(map(str, tokens))


def test_real_generate_streams_every_new_token():
    torch = pytest.importorskip("torch")
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32,
                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                         max_position_embeddings=64, bos_token_id=None, eos_token_id=None,
                         pad_token_id=0)
    model = LlamaForCausalLM(config).eval()
    generation = {"max_new_tokens": 6, "do_sample": False, "apply_chat_template": False,
                  "seed": 1}
    generate = make_generate(model, StubTokenizer(), generation, "cpu")
    requests = [{"index": i, "arrival_s": 0.0, "prompt": f"hello number {i}"} for i in range(2)]
    records, _ = replay(requests, generate, window_s=0.0)
    for record in records:
        assert record["output_tokens"] == 6
        assert 0 < record["ttft_s"] <= record["latency_s"]
        assert len(record["itl_s"]) == 5 and all(gap >= 0 for gap in record["itl_s"])
        assert record["ttft_s"] + sum(record["itl_s"]) <= record["latency_s"] + 1e-3
    figures = token_latency_figures(records)
    assert all(figures[name] is not None for name in figures)
