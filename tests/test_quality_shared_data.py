"""The demo model's quality tasks on real dataset samples (WikiText-2, MMLU, IFEval)."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from conftest import REPO, copy_prepared_model, snakemake, write_config

pytestmark = pytest.mark.e2e

TARGET = "results/quality/smollm2-135m/full.json"


def test_real_samples_score_with_lm_evals_own_code(shared_data, demo_study_run, tmp_path):
    # the same model spec as the demo's: the model that run prepared is reused, with the
    # settings of the tracker that recorded preparing it (a parameter of that job)
    demo_dir, demo_configfile = demo_study_run
    copy_prepared_model(demo_dir, tmp_path, "smollm2-135m")
    config = yaml.safe_load((REPO / "tests" / "configs" / "shared_data.yaml").read_text())
    config["energy"]["tracker"] = yaml.safe_load(demo_configfile.read_text())["energy"]["tracker"]
    snakemake(tmp_path, write_config(tmp_path, config), TARGET)
    result = json.loads((tmp_path / TARGET).read_text())
    values = {(r["task"], r["metric"]): r for r in result["rows"]}

    word_ppl = values[("wikitext", "word_perplexity")]
    assert word_ppl["n_samples"] == 2 and 5 < word_ppl["value"] < 200
    mmlu = values[("mmlu", "acc")]
    # the first 20 questions of the merged subject CSVs, 5-shot from the dev files
    assert mmlu["n_samples"] == 20 and 0 <= mmlu["value"] <= 1 and mmlu["num_fewshot"] == 5
    for metric in ("prompt_level_strict_acc", "inst_level_strict_acc", "prompt_level_loose_acc",
                   "inst_level_loose_acc"):
        assert 0 <= values[("ifeval", metric)]["value"] <= 1
        assert values[("ifeval", metric)]["n_samples"] == 5
    ppl = values[("perplexity", "token_perplexity")]
    # offline-stack figure for this model on WikiText-2: ~13.7 on the first 1024 tokens
    assert math.isfinite(ppl["value"]) and 8 < ppl["value"] < 40
    assert result["perplexity"]["windows"] == 4
    assert result["tasks"][1]["data_sha256"] is None  # a folder of CSVs has no single digest
