"""The demo model's quality tasks on real dataset samples (WikiText-2, MMLU, IFEval)."""

from __future__ import annotations

import json
import math

import pytest

from conftest import REPO, snakemake

pytestmark = pytest.mark.e2e

TARGET = "results/quality/smollm2-135m/full.json"


def test_real_samples_score_with_lm_evals_own_code(shared_data, tmp_path):
    snakemake(tmp_path, REPO / "tests" / "configs" / "shared_data.yaml", TARGET)
    result = json.loads((tmp_path / TARGET).read_text())
    values = {(r["task"], r["metric"]): r for r in result["rows"]}

    word_ppl = values[("wikitext", "word_perplexity")]
    assert word_ppl["n_samples"] == 3 and 5 < word_ppl["value"] < 200
    mmlu = values[("mmlu", "acc")]
    # the first 40 questions of the merged subject CSVs, 5-shot from the dev files
    assert mmlu["n_samples"] == 40 and 0 <= mmlu["value"] <= 1 and mmlu["num_fewshot"] == 5
    for metric in ("prompt_level_strict_acc", "inst_level_strict_acc", "prompt_level_loose_acc",
                   "inst_level_loose_acc"):
        assert 0 <= values[("ifeval", metric)]["value"] <= 1
        assert values[("ifeval", metric)]["n_samples"] == 5
    ppl = values[("perplexity", "token_perplexity")]
    # offline-stack figure for this model on WikiText-2: ~13.7 on the first 1024 tokens
    assert math.isfinite(ppl["value"]) and 8 < ppl["value"] < 40
    assert result["perplexity"]["windows"] == 4
    assert result["tasks"][1]["data_sha256"] is None  # a folder of CSVs has no single digest
