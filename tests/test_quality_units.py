"""Quality stage pieces that need no model: task lists, local data, windows, tidy rows, diffs."""

from __future__ import annotations

import json

import pytest

from conftest import SCHEMA, demo_config
from llm_footprint.quality import local_data
from llm_footprint.quality.evaluate import limit_value, tidy_rows
from llm_footprint.quality.perplexity import plan_windows
from llm_footprint.quality.task_sets import resolve_tasks
from llm_footprint.schema import ConfigError
from llm_footprint.study import load_study
from llm_footprint.tables import quality_rows


def test_task_set_with_overrides_keeps_unwritten_keys():
    tasks = resolve_tasks({"task_set": "paper", "tasks": [{"name": "mmlu", "limit": 100},
                                                          {"name": "ifeval"}]})
    by_name = {t["name"]: t for t in tasks}
    assert [t["name"] for t in tasks] == ["arc_challenge", "hellaswag", "mmlu", "truthfulqa_mc2",
                                          "winogrande", "wikitext", "ifeval"]
    assert by_name["mmlu"]["num_fewshot"] == 5 and by_name["mmlu"]["limit"] == 100
    assert by_name["arc_challenge"]["num_fewshot"] == 25
    assert by_name["ifeval"]["num_fewshot"] == 0 and by_name["ifeval"]["batch_size"] == 1


def test_thesis_set_is_zero_shot_wikitext_mmlu_ifeval():
    tasks = resolve_tasks({"task_set": "thesis", "tasks": []})
    assert [(t["name"], t["num_fewshot"]) for t in tasks] == [("wikitext", 0), ("mmlu", 0),
                                                               ("ifeval", 0)]


def test_duplicate_task_is_refused():
    with pytest.raises(ConfigError) as caught:
        resolve_tasks({"tasks": [{"name": "mmlu"}, {"name": "mmlu"}]})
    assert caught.value.key == "quality.tasks[1].name"


def test_unknown_task_name_suggests_close_matches():
    config = demo_config()
    config["quality"] = {"tasks": [{"name": "wikitxt"}]}
    with pytest.raises(ConfigError) as caught:
        load_study(config, SCHEMA)
    assert caught.value.key == "quality.tasks[0].name"
    assert "did you mean" in str(caught.value) and "wikitext" in str(caught.value)


def test_missing_local_data_file_is_named(tmp_path):
    config = demo_config()
    config["quality"] = {"tasks": [{"name": "ifeval", "data": str(tmp_path / "nope.jsonl")}]}
    with pytest.raises(ConfigError) as caught:
        load_study(config, SCHEMA)
    assert caught.value.key == "quality.tasks[0].data"
    assert "nope.jsonl" in str(caught.value) and "does not exist" in str(caught.value)


def test_record_missing_a_field_names_file_line_and_field(tmp_path):
    path = tmp_path / "ifeval.jsonl"
    good = {"key": 1, "prompt": "Hi", "instruction_id_list": [], "kwargs": []}
    bad = {"key": 2, "prompt": "Hi", "kwargs": []}
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    config = demo_config()
    config["quality"] = {"tasks": [{"name": "ifeval", "data": str(path)}]}
    with pytest.raises(ConfigError) as caught:
        load_study(config, SCHEMA)
    message = str(caught.value)
    assert f"{path}:2:" in message and "'instruction_id_list'" in message


def test_invalid_json_line_is_named(tmp_path):
    path = tmp_path / "mmlu.jsonl"
    path.write_text('{"question": "q", "choices": ["a","b","c","d"], "answer": 0}\n{oops\n')
    with pytest.raises(local_data.DataError) as caught:
        local_data.read_records("mmlu", path)
    assert caught.value.line == 2 and "not valid JSON" in str(caught.value)


def test_wikitext_raw_text_is_split_into_articles():
    text = (" = First = \r\n \r\n Some text .\r\n = = Section = = \r\n More .\r\n"
            " = Second = \r\n Other text .\r\n")
    pages = local_data.wikitext_pages(text)
    assert len(pages) == 2
    assert pages[0]["page"].startswith(" = First = \n") and " = = Section = = " in pages[0]["page"]
    assert pages[1]["page"] == " = Second = \n Other text .\n"


def test_mmlu_csv_becomes_cais_schema(tmp_path):
    (tmp_path / "anatomy_test.csv").write_text('"Which, bone?",Femur,Tibia,Ulna,Skull,C\n')
    (tmp_path / "astronomy_test.csv").write_text("Sun is a,star,planet,moon,comet,A\n")
    records = local_data.read_records("mmlu", tmp_path)
    assert records[0] == {"question": "Which, bone?", "subject": "anatomy",
                          "choices": ["Femur", "Tibia", "Ulna", "Skull"], "answer": 2}
    assert records[1]["subject"] == "astronomy" and records[1]["answer"] == 0


def test_mmlu_csv_with_bad_answer_is_named(tmp_path):
    path = tmp_path / "x_test.csv"
    path.write_text("q,a,b,c,d,A\nq2,a,b,c,d,E\n")
    with pytest.raises(local_data.DataError) as caught:
        local_data.read_records("mmlu", path)
    assert caught.value.line == 2 and caught.value.field == "answer"


def test_limit_value_count_or_fraction():
    assert limit_value(None) is None
    assert limit_value(50) == 50 and isinstance(limit_value(50.0), int)
    assert limit_value(0.25) == 0.25


@pytest.mark.parametrize("n_tokens,context,stride", [(10, 4, 4), (10, 4, 2), (9, 3, 1), (4, 8, 8)])
def test_windows_score_each_token_at_most_once(n_tokens, context, stride):
    windows = plan_windows(n_tokens, context, stride)
    scored = [t for w in windows for t in range(w.scored_from, w.end)]
    assert len(scored) == len(set(scored))
    assert all(w.end - w.begin <= context and w.scored_from > w.begin for w in windows)
    if stride < context:  # overlapping windows give every token after the first some context
        assert sorted(scored) == list(range(1, n_tokens))
    else:  # disjoint windows: each window's first token is context only (GPTQ convention)
        assert sorted(scored) == [t for t in range(n_tokens) if t % context]


def test_max_windows_caps_the_plan():
    assert len(plan_windows(100, 10, None, max_windows=3)) == 3


def test_tidy_rows_from_an_lm_eval_result():
    result = {
        "results": {"ifeval": {"alias": "ifeval", "prompt_level_strict_acc,none": 0.25,
                               "prompt_level_strict_acc_stderr,none": 0.1,
                               "inst_level_strict_acc,none": 0.5,
                               "inst_level_strict_acc_stderr,none": "N/A"}},
        "n-samples": {"ifeval": {"original": 541, "effective": 8}},
        "higher_is_better": {"ifeval": {"prompt_level_strict_acc": True,
                                        "inst_level_strict_acc": True}},
    }
    spec = {"name": "ifeval", "num_fewshot": 0, "limit": 8}
    rows = tidy_rows(result, spec, "m", "v")
    assert {(r["metric"], r["value"], r["stderr"]) for r in rows} == {
        ("prompt_level_strict_acc", 0.25, 0.1), ("inst_level_strict_acc", 0.5, None)}
    assert all(r["n_samples"] == 8 and r["higher_is_better"] for r in rows)


def test_tidy_rows_refuse_an_empty_result():
    result = {"results": {"t": {"alias": "t"}}, "n-samples": {}}
    with pytest.raises(RuntimeError, match="no metric"):
        tidy_rows(result, {"name": "t", "num_fewshot": 0, "limit": None}, "m", "v")


def test_quality_rows_compare_with_the_baseline(tmp_path):
    def write(variant, ppl, acc):
        rows = [{"model": "m", "variant": variant, "task": "wikitext", "metric": "word_perplexity",
                 "value": ppl}, {"model": "m", "variant": variant, "task": "mmlu",
                                 "metric": "acc", "value": acc}]
        path = tmp_path / f"{variant}.json"
        path.write_text(json.dumps({"rows": rows}))
        return path

    rows = quality_rows([write("full", 10.0, 0.5), write("q4", 12.0, 0.4)], "full")
    by_key = {(r["variant"], r["metric"]): r for r in rows}
    assert by_key[("q4", "word_perplexity")]["difference_baseline_minus_variant"] == pytest.approx(-2.0)
    assert by_key[("q4", "word_perplexity")]["relative_change_pct"] == pytest.approx(20.0)
    assert by_key[("q4", "acc")]["difference_baseline_minus_variant"] == pytest.approx(0.1)
    assert by_key[("full", "acc")]["difference_baseline_minus_variant"] is None


def test_only_single_tasks_and_self_contained_groups_get_a_partial_index():
    from llm_footprint.quality.task_names import folders_to_index

    kinds = {"wikitext": "TASK", "mmlu": "GROUP", "leaderboard": "GROUP", "ai2_arc": "TAG"}
    configs = {"wikitext": "wikitext/wikitext.yaml", "mmlu": "mmlu/default/_mmlu.yaml",
               "leaderboard": "leaderboard/leaderboard.yaml", "ai2_arc": "arc/arc_easy.yaml"}
    assert folders_to_index(["mmlu", "wikitext"], kinds, configs) == ["mmlu", "wikitext"]
    # a group or tag may gather tasks from other folders; a name without a config file
    assert folders_to_index(["wikitext", "leaderboard"], kinds, configs) is None
    assert folders_to_index(["ai2_arc"], kinds, configs) is None
    assert folders_to_index(["not-indexed"], kinds, configs) is None
