"""Calibration texts: sources, seeded sampling, truncation."""

import pytest

from llm_footprint import calibration


def test_pydoc_topics_are_available_offline_and_long_enough():
    texts = calibration.pydoc_topics_texts()
    assert sum(len(t) >= 400 for t in texts) >= 200


def test_sampling_is_seeded():
    texts = [f"text number {i} " * 40 for i in range(100)]
    first = calibration.sample_texts(texts, 10, 100, seed=0)
    assert first == calibration.sample_texts(texts, 10, 100, seed=0)
    assert first != calibration.sample_texts(texts, 10, 100, seed=1)


def test_too_few_texts_is_a_clear_error():
    with pytest.raises(ValueError, match="has 1 texts of >= 50 characters; 5 were asked for"):
        calibration.sample_texts(["x" * 60, "short"], 5, 50, seed=0)


def test_text_file_is_split_on_blank_lines(tmp_path):
    path = tmp_path / "calib.txt"
    path.write_text("first paragraph\nstill first\n\n\r\nsecond\n\n   \n\nthird\n")
    assert calibration.text_file_texts(path) == ["first paragraph\nstill first", "second", "third"]


class _WordTokenizer:
    def __call__(self, text, truncation, max_length):
        ids = list(range(len(text.split())))
        return {"input_ids": ids[:max_length] if truncation else ids}


def test_build_truncates_and_records_tokens():
    config = {"source": "pydoc_topics", "n_samples": 4, "max_tokens": 16, "min_chars": 400,
              "seed": 3}
    examples, record = calibration.build(config, _WordTokenizer())
    assert len(examples) == 4
    assert all(len(e["input_ids"]) == 16 == len(e["attention_mask"]) for e in examples)
    assert record["tokens_total"] == 64 and record["n_samples"] == 4 and record["seed"] == 3
