"""Turn a study's task entry into what ``lm_eval.simple_evaluate`` takes.

A task with hub data is passed by its built-in name. A task with local data is passed as the
built-in task's own config (prompt templates, metrics, ``process_results``) with only its
dataset replaced by the local records, so the scoring code and thus the numbers are the same.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from .local_data import read_records

# MMLU is a group of 57 subject tasks; local MMLU data becomes one task over all subjects with
# the subject's name in the description, as in each subject's built-in config. Its accuracy
# equals the built-in group's, which weights subjects by size.
MMLU_TEMPLATE = Path("mmlu") / "default" / "_default_template_yaml"
MMLU_DESCRIPTION = ("The following are multiple choice questions (with answers) about "
                    "{{subject.replace('_', ' ')}}.\n\n")


def _dataset_dict(splits: dict[str, list[dict[str, Any]]], **_: Any) -> Any:
    import datasets

    return datasets.DatasetDict({name: datasets.Dataset.from_list(records)
                                 for name, records in splits.items()})


def _builtin_config(name: str, task_manager: Any) -> dict[str, Any]:
    import lm_eval.tasks
    from lm_eval.tasks._yaml_loader import load_yaml

    entry = task_manager.task_index.get(name)
    if entry is None:
        raise KeyError(f"{name!r} is not an lm-evaluation-harness task")
    if name == "mmlu":
        config = dict(load_yaml(Path(lm_eval.tasks.__file__).parent / MMLU_TEMPLATE,
                                resolve_func=True))
        config["description"] = MMLU_DESCRIPTION
        return config
    if entry.yaml_path is None or getattr(entry.kind, "name", "") != "TASK":
        raise ValueError(f"local data can replace the dataset of a single task (or of mmlu); "
                         f"{name!r} is a {getattr(entry.kind, 'name', 'group').lower()}")
    return dict(load_yaml(entry.yaml_path, resolve_func=True))


def local_task_config(spec: dict[str, Any], task_manager: Any) -> dict[str, Any]:
    """The built-in config of ``spec['name']`` with its dataset replaced by local records."""
    name = spec["name"]
    config = _builtin_config(name, task_manager)
    eval_split = config.get("test_split") or config.get("validation_split") or "test"
    fewshot_split = (config.get("fewshot_split") or config.get("training_split")
                     or config.get("validation_split") or eval_split)
    if fewshot_split == eval_split and spec.get("fewshot_data"):
        fewshot_split = "fewshot"  # a split of its own, so the local few-shot file is used
    splits = {eval_split: read_records(name, spec["data"], "test")}
    if spec["num_fewshot"]:
        splits[fewshot_split] = (read_records(name, spec["fewshot_data"], "dev")
                                 if spec.get("fewshot_data") else splits[eval_split])
    for key in ("dataset_path", "dataset_name", "dataset_kwargs", "tag", "group", "task_alias"):
        config.pop(key, None)
    # splits the local data does not provide must not be looked for
    for key in ("training_split", "validation_split", "test_split"):
        if config.get(key) not in splits:
            config[key] = None
    config["fewshot_split"] = fewshot_split if spec["num_fewshot"] else None
    config["task"] = name
    config["custom_dataset"] = functools.partial(_dataset_dict, splits)
    return config


def lm_eval_task(spec: dict[str, Any], task_manager: Any) -> str | dict[str, Any]:
    if spec.get("data"):
        return local_task_config(spec, task_manager)
    return spec["name"]
