"""Scenario fixed_workload: the same work, done back to back (the paper's: 30 times).

The companion paper timed and metered the perplexity evaluation over WikiText-2, repeated 30
times; its Tc and Ec are that workload's time and energy. Workload ``perplexity`` is that:
token-level perplexity over the study's perplexity text. Workload ``generate`` is every prompt
of the study's schedule, answered in batches of ``batch_size`` with exactly max_new_tokens new
tokens each, so every variant does the same work.

Prefill and decode (workload ``generate``, ``split_prefill``): the tracker samples power about
once a second, far coarser than one prompt's prefill, so the split is measured rather than
read off the samples: every repeat also runs the same batches with one new token each (the
prefill: one forward over the prompts, which yields the first token), measured on its own
just before the full run. The decode's energy is the full run's minus the prefill run's, over
the tokens after the first of each sequence. A difference that is not positive (the prefill
dominates and the noise hides the decode) leaves the decode figures empty, with a note.
"""

from __future__ import annotations

import logging
from typing import Any

from ..repeats import Precision, run_repeats
from ..summary import J_PER_KWH
from ..tracked_work import WorkMeter
from .workloads import generation_work, make_batch_generate, perplexity_work

log = logging.getLogger(__name__)

SERIES = "fixed_workload"
HEADLINE = "hardware_energy_kwh"  # energy per run of the workload

# figures of the prefill run kept in the repeat's record, as prefill_<name>
PREFILL_FIGURES = ("wall_time_s", "hardware_energy_kwh", "hardware_energy_dynamic_kwh",
                   "input_tokens")


def decode_split(full: dict[str, Any], prefill: dict[str, Any]) -> dict[str, Any]:
    """Prefill and decode figures of one repeat from its full and prefill-only runs."""
    split: dict[str, Any] = {f"prefill_{name}": prefill.get(name) for name in PREFILL_FIGURES}
    inputs = prefill.get("input_tokens") or 0
    split["prefill_hardware_energy_per_input_token_j"] = (
        prefill["hardware_energy_kwh"] * J_PER_KWH / inputs if inputs else None)
    decode_tokens = full["output_tokens"] - full["sequences"]
    split["decode_tokens"] = decode_tokens
    for kind in ("", "_dynamic"):
        total, first = full.get(f"hardware_energy{kind}_kwh"), prefill.get(
            f"hardware_energy{kind}_kwh")
        energy = total - first if total is not None and first is not None else None
        resolved = energy is not None and energy > 0 and decode_tokens > 0
        split[f"decode_hardware_energy{kind}_kwh"] = energy if resolved else None
        split[f"decode_hardware_energy{kind}_per_output_token_j"] = (
            energy * J_PER_KWH / decode_tokens if resolved else None)
    decode_s = full["wall_time_s"] - prefill["wall_time_s"]
    split["decode_time_per_token_s"] = (decode_s / decode_tokens * full["sequences"]
                                        if decode_tokens > 0 and decode_s > 0 else None)
    if split["decode_hardware_energy_kwh"] is None:
        split["prefill_split_note"] = (
            "unresolved: the full run's energy does not exceed the prefill run's "
            f"({full['hardware_energy_kwh']:.3g} vs {prefill['hardware_energy_kwh']:.3g} kWh)")
    return split


def run(meter: WorkMeter, loaded: Any, settings: dict[str, Any], context: dict[str, Any],
        label: str) -> dict[str, Any]:
    """Measure the workload until its precision says stop (energy.repeats); the runs and what
    the work was."""
    prefill_work = None
    if settings["workload"] == "perplexity":
        work = perplexity_work(loaded.model, loaded.tokenizer, context["perplexity_text"],
                               context["perplexity"], settings["batch_size"],
                               settings["max_windows"])
        described = {"workload": "perplexity", "text_source": context["perplexity_source"]}
    else:
        generation = context["generation"]
        generate = make_batch_generate(loaded.model, loaded.tokenizer, generation,
                                       context["device"], fixed_length=True)
        work = generation_work(generate, context["prompts"], settings["batch_size"],
                               generation["seed"])
        if settings.get("split_prefill"):
            first_token = make_batch_generate(loaded.model, loaded.tokenizer,
                                              {**generation, "max_new_tokens": 1},
                                              context["device"], fixed_length=True)
            prefill_work = generation_work(first_token, context["prompts"],
                                           settings["batch_size"], generation["seed"])
        described = {"workload": "generate", "prompts": len(context["prompts"]),
                     "max_new_tokens": generation["max_new_tokens"],
                     "split_prefill": prefill_work is not None}
    for _ in range(settings["warmup_runs"]):
        work()  # first forwards may select kernels or fill caches

    def measure_repeat(repeat: int, emissions_file: str) -> dict[str, Any]:
        prefill = (meter.measure(prefill_work, f"{label}/fixed_workload/{repeat}/prefill",
                                 emissions_file) if prefill_work else None)
        figures = meter.measure(work, f"{label}/fixed_workload/{repeat}", emissions_file)
        if prefill is not None:
            figures.update(decode_split(figures, prefill))
        return {"repeat": repeat, "batch_size": settings["batch_size"], **figures}

    precision = Precision.of(settings, context["energy"])
    runs, achieved = run_repeats(context["ledger"], SERIES, precision, HEADLINE, measure_repeat)
    return {"workload": {**described, "batch_size": settings["batch_size"],
                         "warmup_runs": settings["warmup_runs"], "repeats": len(runs)},
            "runs": runs, "precision": {SERIES: achieved}}
