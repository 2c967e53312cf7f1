"""Scenario fixed_workload: the same work, done back to back ``repeats`` times (the paper's).

The companion paper timed and metered the perplexity evaluation over WikiText-2, repeated 30
times; its Tc and Ec are that workload's time and energy. Workload ``perplexity`` is that:
token-level perplexity over the study's perplexity text. Workload ``generate`` is every prompt
of the study's schedule, answered in batches of ``batch_size`` with exactly max_new_tokens new
tokens each, so every variant does the same work.
"""

from __future__ import annotations

import logging
from typing import Any

from ..tracked_work import WorkMeter
from .workloads import generation_work, make_batch_generate, perplexity_work

log = logging.getLogger(__name__)


def run(meter: WorkMeter, loaded: Any, settings: dict[str, Any], context: dict[str, Any],
        label: str) -> dict[str, Any]:
    """Measure the workload ``settings['repeats']`` times; the runs and what the work was."""
    if settings["workload"] == "perplexity":
        work = perplexity_work(loaded.model, loaded.tokenizer, context["perplexity_text"],
                               context["perplexity"], settings["batch_size"],
                               settings["max_windows"])
        described = {"workload": "perplexity", "text_source": context["perplexity_source"]}
    else:
        generate = make_batch_generate(loaded.model, loaded.tokenizer, context["generation"],
                                       context["device"], fixed_length=True)
        work = generation_work(generate, context["prompts"], settings["batch_size"],
                               context["generation"]["seed"])
        described = {"workload": "generate", "prompts": len(context["prompts"]),
                     "max_new_tokens": context["generation"]["max_new_tokens"]}
    work()  # warm-up: first forwards may compile kernels or fill caches
    runs = []
    for repeat in range(1, settings["repeats"] + 1):
        figures = meter.measure(work, f"{label}/fixed_workload/{repeat}")
        runs.append({"repeat": repeat, "batch_size": settings["batch_size"], **figures})
    return {"workload": {**described, "batch_size": settings["batch_size"],
                         "repeats": settings["repeats"]}, "runs": runs}
