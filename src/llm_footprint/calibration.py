"""Calibration texts for GPTQ: where they come from, how they are sampled and tokenized."""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .schema import ConfigError

_BLANK_LINES = re.compile(r"\n\s*\n")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Guidance:
    """The least calibration a method's library or paper asks for."""

    min_samples: int
    min_mean_tokens: int
    by: str  # who asks, e.g. "GPTQModel"


# GPTQModel 7.6 warns below 256 texts of 256 tokens on average (looper/loop_processor.py)
GPTQMODEL = Guidance(256, 256, "GPTQModel")
# the SparseGPT paper calibrates on 128 segments of 2048 tokens
SPARSEGPT_PAPER = Guidance(128, 2048, "the SparseGPT paper")


def check_config(key: str, calibration: dict[str, Any]) -> None:
    """The calibration keys a schema cannot check: the source's own keys and files."""
    source = calibration["source"]
    if source == "text_file":
        if not calibration.get("path"):
            raise ConfigError(f"{key}.path", "is required when source is text_file")
        if not Path(calibration["path"]).is_file():
            raise ConfigError(f"{key}.path", f"file {calibration['path']} does not exist")
    if source == "hf_dataset" and not calibration.get("dataset"):
        raise ConfigError(f"{key}.dataset", "is required when source is hf_dataset")


def split_paragraphs(text: str) -> list[str]:
    return [p.strip() for p in _BLANK_LINES.split(text.replace("\r\n", "\n")) if p.strip()]


def pydoc_topics_texts() -> list[str]:
    """Paragraphs of Python's own reference documentation, shipped with every CPython."""
    from pydoc_data import topics

    return [p for _, body in sorted(topics.topics.items()) for p in split_paragraphs(body)]


def text_file_texts(path: str | Path) -> list[str]:
    return split_paragraphs(Path(path).read_text(encoding="utf-8"))


def hf_dataset_texts(calibration: dict[str, Any]) -> list[str]:
    from datasets import load_dataset

    dataset = load_dataset(calibration["dataset"], calibration.get("dataset_config"),
                           data_files=calibration.get("data_files"), split=calibration["split"])
    field = calibration["text_field"]
    if field not in dataset.column_names:
        raise KeyError(f"calibration dataset {calibration['dataset']} has no field {field!r} "
                       f"(fields: {dataset.column_names})")
    return [t for t in dataset[field] if isinstance(t, str) and t.strip()]


def candidate_texts(calibration: dict[str, Any]) -> list[str]:
    source = calibration["source"]
    if source == "pydoc_topics":
        return pydoc_topics_texts()
    if source == "text_file":
        return text_file_texts(calibration["path"])
    if source == "hf_dataset":
        return hf_dataset_texts(calibration)
    raise ValueError(f"unknown calibration source {source!r}")


def sample_texts(texts: list[str], n_samples: int, min_chars: int, seed: int) -> list[str]:
    """A seeded sample of ``n_samples`` texts of at least ``min_chars`` characters."""
    eligible = [t for t in texts if len(t) >= min_chars]
    if len(eligible) < n_samples:
        raise ValueError(f"calibration source has {len(eligible)} texts of >= {min_chars} "
                         f"characters; {n_samples} were asked for (lower n_samples or min_chars)")
    return random.Random(seed).sample(eligible, n_samples)


def tokenize(texts: list[str], tokenizer: Any, max_tokens: int) -> list[dict[str, list[int]]]:
    """Tokenized, truncated examples in the form GPTQModel's ``quantize`` accepts."""
    examples = []
    for text in texts:
        ids = tokenizer(text, truncation=True, max_length=max_tokens)["input_ids"]
        examples.append({"input_ids": list(ids), "attention_mask": [1] * len(ids)})
    return examples


def build(calibration: dict[str, Any], tokenizer: Any, key: str = "calibration",
          guidance: Guidance | None = None) -> tuple[list[dict[str, list[int]]], dict[str, Any]]:
    """Calibration examples plus a record of what they were (for the compress summary); a
    warning naming ``key`` when they are fewer or shorter than ``guidance`` asks for."""
    texts = sample_texts(candidate_texts(calibration), calibration["n_samples"],
                         calibration["min_chars"], calibration["seed"])
    examples = tokenize(texts, tokenizer, calibration["max_tokens"])
    token_counts = [len(e["input_ids"]) for e in examples]
    digest = hashlib.sha256(json.dumps([e["input_ids"] for e in examples]).encode()).hexdigest()
    record = {
        "source": calibration["source"],
        "path": calibration.get("path"),
        "dataset": calibration.get("dataset"),
        "n_samples": len(examples),
        "tokens_total": sum(token_counts),
        "tokens_mean": round(sum(token_counts) / len(token_counts), 1),
        "max_tokens": calibration["max_tokens"],
        "seed": calibration["seed"],
        "token_ids_sha256": digest,
    }
    log.info("calibration: %d texts, %d tokens (source %s)", record["n_samples"],
             record["tokens_total"], record["source"])
    if guidance is not None:
        record.update(below_guidance_of=None, guidance_min_samples=guidance.min_samples,
                      guidance_min_mean_tokens=guidance.min_mean_tokens)
        if (record["n_samples"] < guidance.min_samples
                or record["tokens_mean"] < guidance.min_mean_tokens):
            record["below_guidance_of"] = guidance.by
            log.warning("%s: %d texts of %.0f tokens on average (%d tokens) is less than %s asks "
                        "for (at least %d texts of %d tokens); the method's quality may suffer: "
                        "raise %s.n_samples or %s.max_tokens", key, record["n_samples"],
                        record["tokens_mean"], record["tokens_total"], guidance.by,
                        guidance.min_samples, guidance.min_mean_tokens, key, key)
    return examples, record
