"""IFEval's real checkers score offline, with NLTK's Punkt tables written from a PyPI package.

For every instruction of the demo's IFEval-format prompts, a compliant and a non-compliant
hand-written response are scored by lm-eval's own IFEval code.
"""

from __future__ import annotations

import json

import pytest

from conftest import REPO

DEMO_IFEVAL = REPO / "data" / "demo" / "quality" / "ifeval_style.jsonl"


def _words(n):
    return " ".join(["word"] * n) + "."


def _sentences(n):
    return " ".join(["This is one short sentence."] * n)


# instruction id -> (compliant response, non-compliant response), given the kwargs
RESPONSES = {
    "punctuation:no_comma": lambda kw: ("I like tea and I like cake.", "I like tea, and cake."),
    "change_case:english_lowercase": lambda kw: ("all of this text is lowercase.",
                                                 "This Text Has Capitals."),
    "change_case:english_capital": lambda kw: ("ALL OF THIS TEXT IS UPPERCASE.",
                                               "only lowercase here."),
    "length_constraints:number_words": lambda kw: (
        (_words(kw["num_words"] - 1), _words(kw["num_words"] + 5))
        if kw["relation"] == "less than"
        else (_words(kw["num_words"] + 5), _words(max(1, kw["num_words"] - 5)))),
    "length_constraints:number_sentences": lambda kw: (
        (_sentences(kw["num_sentences"] - 1), _sentences(kw["num_sentences"] + 2))
        if kw["relation"] == "less than"
        else (_sentences(kw["num_sentences"] + 1), _sentences(kw["num_sentences"] - 1))),
    "detectable_format:number_bullet_lists": lambda kw: (
        "\n".join(f"* point {i}" for i in range(kw["num_bullets"])),
        "\n".join(f"* point {i}" for i in range(kw["num_bullets"] + 1))),
    "detectable_format:title": lambda kw: ("<<A Good Title>>\nThe body follows.",
                                           "A Good Title\nThe body follows."),
    "keywords:existence": lambda kw: ("We talked about " + " and ".join(kw["keywords"]) + ".",
                                      "We talked about nothing in particular."),
    "keywords:forbidden_words": lambda kw: ("A calm and plain reply.",
                                            "A reply with " + " ".join(kw["forbidden_words"]) + "."),
    "startend:end_checker": lambda kw: ("Some text first. " + kw["end_phrase"],
                                        kw["end_phrase"] + " And then more text."),
    "startend:quotation": lambda kw: ('"Everything is wrapped in quotes."',
                                      "Nothing is wrapped in quotes."),
    "detectable_content:postscript": lambda kw: (
        f"The main message.\n{kw['postscript_marker']} One more thing.",
        "The main message and nothing after it."),
}


def _demo_instructions():
    cases = []
    for line in DEMO_IFEVAL.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        for instruction, kwargs in zip(record["instruction_id_list"], record["kwargs"]):
            cases.append((record["key"], instruction, kwargs, record["prompt"]))
    return cases


@pytest.fixture(scope="module")
def ifeval_utils(tmp_path_factory):
    from llm_footprint.quality import nltk_offline

    nltk_offline.write_punkt_tab(tmp_path_factory.mktemp("nltk_data"))
    from lm_eval.tasks.ifeval import utils

    return utils


def test_demo_prompts_use_several_real_instruction_types():
    used = {case[1] for case in _demo_instructions()}
    assert len(used) >= 8
    unknown = used - set(RESPONSES)
    assert not unknown, f"no hand-written responses for {unknown}"


@pytest.mark.parametrize("key,instruction,kwargs,prompt", _demo_instructions(),
                         ids=[f"{c[0]}-{c[1]}" for c in _demo_instructions()])
def test_instruction_is_scored_offline(ifeval_utils, key, instruction, kwargs, prompt):
    compliant, violating = RESPONSES[instruction](kwargs)
    doc = {"key": key, "prompt": prompt, "instruction_id_list": [instruction], "kwargs": [kwargs]}
    assert ifeval_utils.process_results(doc, [compliant])["prompt_level_strict_acc"] is True
    assert ifeval_utils.process_results(doc, [violating])["prompt_level_strict_acc"] is False


def test_sentence_splitting_uses_the_offline_punkt_tables(ifeval_utils):
    from lm_eval.tasks.ifeval import instructions_util

    assert instructions_util.count_sentences("Dr. Smith arrived at 5 p.m. on Monday. He left.") == 2
