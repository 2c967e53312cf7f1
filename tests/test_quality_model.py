"""Quality metrics on the real demo model, checked against direct computations."""

from __future__ import annotations

import math
import re

import pytest

SHORT_PAGE = (" = Harbour Lights = \n \n The harbour light stands at the end of the northern "
              "pier . It was first lit in 1871 and guided fishing boats home for a century . \n")


@pytest.fixture(scope="module")
def demo_lm(demo_model_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(2)
    model = AutoModelForCausalLM.from_pretrained(demo_model_dir, dtype=torch.float32).eval()
    return model, AutoTokenizer.from_pretrained(demo_model_dir)


def _sum_log_likelihood(model, token_ids):
    """log p(token_ids[1:] | prefix) summed, straight from the model's logits."""
    import torch

    ids = torch.tensor([token_ids])
    with torch.inference_mode():
        log_probs = torch.log_softmax(model(ids).logits[0, :-1].float(), dim=-1)
    return float(log_probs.gather(1, ids[0, 1:].unsqueeze(1)).sum())


def test_local_wikitext_word_perplexity_equals_direct_computation(demo_lm, tmp_path):
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager
    from lm_eval.tasks.wikitext.preprocess_wikitext import wikitext_detokenizer

    from llm_footprint.quality.lm_tasks import lm_eval_task

    model, tokenizer = demo_lm
    data = tmp_path / "wiki.txt"
    data.write_text(SHORT_PAGE)
    spec = {"name": "wikitext", "data": str(data), "fewshot_data": None, "num_fewshot": 0}
    manager = TaskManager()
    result = simple_evaluate(model=HFLM(pretrained=model, tokenizer=tokenizer, batch_size=1),
                             tasks=[lm_eval_task(spec, manager)], task_manager=manager,
                             log_samples=False)
    reported = result["results"]["wikitext"]["word_perplexity,none"]

    # direct: the detokenized page scored after one prefix token (BOS, else EOS), words counted
    # on the page as written
    target = wikitext_detokenizer({"page": SHORT_PAGE})
    prefix = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    tokens = tokenizer(target, add_special_tokens=False)["input_ids"]
    log_likelihood = _sum_log_likelihood(model, [prefix, *tokens])
    words = len(re.split(r"\s+", SHORT_PAGE))
    assert reported == pytest.approx(math.exp(-log_likelihood / words), rel=1e-4)


def test_token_perplexity_matches_the_model_loss(demo_lm):
    import torch

    from llm_footprint.quality.perplexity import token_perplexity

    model, tokenizer = demo_lm
    text = SHORT_PAGE * 3
    ids = tokenizer(text)["input_ids"]
    result = token_perplexity(model, tokenizer, text, context_tokens=len(ids) + 5)
    with torch.inference_mode():
        loss = model(torch.tensor([ids]), labels=torch.tensor([ids])).loss
    assert result["windows"] == 1 and result["tokens_scored"] == len(ids) - 1
    assert result["token_perplexity"] == pytest.approx(math.exp(float(loss)), rel=1e-4)

    # two disjoint windows: the sum of each window's own loss
    half = len(ids) // 2
    split = token_perplexity(model, tokenizer, text, context_tokens=half, batch_size=2)
    expected_nll = 0.0
    for begin in range(0, len(ids), half):
        chunk = ids[begin:begin + half]
        if len(chunk) > 1:
            expected_nll -= _sum_log_likelihood(model, chunk)
    assert split["nll_sum_nats"] == pytest.approx(expected_nll, rel=1e-4)


def test_paired_blocks_hold_the_scored_tokens_nll_and_fingerprint_the_tokens(demo_lm):
    """With pairing, the NLL of each block of BLOCK_TOKENS scored tokens (the model's own loss
    over those tokens, computed directly) and a fingerprint that changes with the text or the
    windows; without it (the energy stage's fixed workload) none of that work is done."""
    import torch

    from llm_footprint.quality.perplexity import BLOCK_TOKENS, token_perplexity

    model, tokenizer = demo_lm
    text = SHORT_PAGE * 8
    ids = tokenizer(text)["input_ids"]
    result = token_perplexity(model, tokenizer, text, context_tokens=len(ids) + 5, pairing=True)
    blocks = result["block_nll_nats"]
    assert result["block_tokens"] == BLOCK_TOKENS and len(blocks) == (len(ids) - 1) // BLOCK_TOKENS
    # block 2 directly: the loss over its targets, ids[1 + 2 * 64 : 1 + 3 * 64]
    with torch.inference_mode():
        log_probs = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), dim=-1)
    first = 1 + 2 * BLOCK_TOKENS
    targets = torch.tensor(ids[first:first + BLOCK_TOKENS])
    direct = -float(log_probs[first - 1:first - 1 + BLOCK_TOKENS].gather(
        1, targets.unsqueeze(1)).sum())
    assert blocks[2] == pytest.approx(direct, rel=1e-4)
    assert sum(blocks) <= result["nll_sum_nats"] + 1e-6

    same = token_perplexity(model, tokenizer, text, context_tokens=len(ids) + 5, pairing=True)
    other_windows = token_perplexity(model, tokenizer, text, context_tokens=64, pairing=True)
    other_text = token_perplexity(model, tokenizer, text + " Again .", context_tokens=len(ids) + 5,
                                  pairing=True)
    assert same["scored_tokens_fingerprint"] == result["scored_tokens_fingerprint"]
    assert other_windows["scored_tokens_fingerprint"] != result["scored_tokens_fingerprint"]
    assert other_text["scored_tokens_fingerprint"] != result["scored_tokens_fingerprint"]
    plain = token_perplexity(model, tokenizer, text, context_tokens=len(ids) + 5)
    assert "block_nll_nats" not in plain and "scored_tokens_fingerprint" not in plain


def test_evaluation_indexes_only_its_tasks_folders_and_finds_the_same_configs():
    """An evaluation job indexes the folders of its tasks only; the configs it resolves are
    those of lm-eval's full index, which any other use (and the cluster's hub tasks) goes by."""
    from lm_eval.tasks import TaskManager

    from llm_footprint.quality.lm_tasks import _builtin_config
    from llm_footprint.quality.task_names import task_manager_for

    names = ["wikitext", "mmlu", "ifeval"]
    restricted, full = task_manager_for(names), TaskManager()
    assert len(restricted.task_index) < len(full.task_index) / 10
    # the hub route: the group and every subject task of MMLU are there
    subjects = {n for n in full.task_index if n.startswith("mmlu_") and
                "/mmlu/default/" in str(full.task_index[n].yaml_path)}
    assert subjects and subjects <= set(restricted.task_index)

    def described(config):
        return {k: getattr(v, "__qualname__", v) for k, v in config.items()}

    for name in names:
        assert restricted.task_index[name].yaml_path == full.task_index[name].yaml_path
        assert described(_builtin_config(name, restricted)) == described(
            _builtin_config(name, full)), name
