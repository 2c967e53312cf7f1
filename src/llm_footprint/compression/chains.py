"""Chains of compression steps: a variant with ``method: chain`` applies ``steps`` in order.

The last step writes the variant's checkpoint (results/checkpoints/{model}/{variant}); every
earlier prefix of the steps is its own cached checkpoint (results/steps/{model}/{key}), whose
key is derived from the prefix's settings, so that two chains sharing a prefix compute it once.
Which orders are valid comes from each method's ``can_follow``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..schema import ConfigError
from .base import Method

CHAIN = "chain"


def steps_of(variant: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps a variant applies: its ``steps``, or the variant itself as one step."""
    return list(variant["steps"]) if variant["method"] == CHAIN else [variant]


def variant_steps(variants: dict[str, Any]):
    """(dotted key, step) of every step of every variant, a plain variant being its own one
    step; tolerant of unvalidated input (used before the schema has run)."""
    for variant_id, spec in (variants or {}).items():
        if not isinstance(spec, dict):
            continue
        steps = spec.get("steps")
        if spec.get("method") == CHAIN and isinstance(steps, list):
            for index, step in enumerate(steps):
                if isinstance(step, dict):
                    yield f"variants.{variant_id}.steps[{index}]", step
        else:
            yield f"variants.{variant_id}", spec


def prefix_key(steps: list[dict[str, Any]]) -> str:
    """A stable folder name for the checkpoint after ``steps``: their count, their methods and
    a digest of their settings (``2-head_prune+bnb-1a2b3c4d5e``)."""
    digest = hashlib.sha256(json.dumps(steps, sort_keys=True).encode()).hexdigest()[:10]
    return f"{len(steps)}-{'+'.join(s['method'] for s in steps)}-{digest}"


def check_chain(key: str, variant: dict[str, Any], methods: dict[str, Method]) -> None:
    """Each step is a compressing method that can follow the step before it."""
    previous = None
    for index, step in enumerate(variant["steps"]):
        step_key = f"{key}.steps[{index}]"
        name = step["method"]
        if name == CHAIN:
            raise ConfigError(f"{step_key}.method", "a step cannot itself be a chain")
        if name == "none":
            raise ConfigError(f"{step_key}.method", "method none compresses nothing: a chain's "
                                                    "steps start from the prepared model anyway")
        method = methods[name]
        if previous is not None and previous not in method.can_follow:
            follows = ", ".join(m for m in method.can_follow if m != "none") or "no other method"
            raise ConfigError(f"{step_key}.method",
                              f"{name} cannot take the checkpoint of {previous} (step "
                              f"{index - 1}) as input; it can follow: {follows}. Prune or "
                              f"distill first, quantize last")
        method.check(step_key, step)
        previous = name
