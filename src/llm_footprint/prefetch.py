"""Rule prefetch: on the login node, fetch every hub dataset the GPU jobs will read.

Compute nodes on many clusters have no internet, so the GPU jobs run with HF_HUB_OFFLINE=1
and HF_DATASETS_OFFLINE=1 and read only the cache this fills (HF_HOME): the lm-eval tasks
that use hub data, the WikiText-2 text of token-level perplexity, GPTQ calibration datasets
and the prompt source. Models are fetched by prepare_model, also on the login node.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from . import atomic, provenance
from .compression.chains import variant_steps
from .quality.perplexity import WIKITEXT_HUB
from .quality.task_sets import resolve_tasks

log = logging.getLogger(__name__)


def plan(config: dict[str, Any]) -> dict[str, Any]:
    """What the study reads from the hub, apart from the models."""
    tasks = resolve_tasks(config["quality"])
    datasets: list[dict[str, Any]] = []
    perplexity = config["quality"]["perplexity"]
    local_wikitext = any(t["name"] == "wikitext" and t.get("data") for t in tasks)
    if perplexity["enabled"] and perplexity["source"] == "wikitext" and not local_wikitext:
        name, subset, split = WIKITEXT_HUB
        datasets.append({"use": "perplexity", "dataset": name, "config": subset, "split": split,
                         "data_files": None})
    for key, step in variant_steps(config["variants"]):
        calibration = step.get("calibration") or {}
        if calibration.get("source") == "hf_dataset":
            datasets.append({"use": f"calibration of {key}", "dataset": calibration["dataset"],
                             "config": calibration.get("dataset_config"),
                             "split": calibration["split"],
                             "data_files": calibration.get("data_files")})
    prompts = config["energy"]["prompts"]
    if config["energy"]["enabled"] and prompts["source"] == "hf_dataset":
        datasets.append({"use": "energy prompts", "dataset": prompts["dataset"], "config": None,
                         "split": prompts["split"], "data_files": None})
    unique = {tuple(sorted((k, str(v)) for k, v in d.items() if k != "use")): d for d in datasets}
    return {"lm_eval_tasks": sorted(t["name"] for t in tasks if not t.get("data")),
            "datasets": list(unique.values())}


def fetch(plan_: dict[str, Any], out_json: str | Path) -> dict[str, Any]:
    started = time.monotonic()
    fetched = []
    if plan_["datasets"]:
        import datasets

        for entry in plan_["datasets"]:
            log.info("fetching %s (%s)", entry["dataset"], entry["use"])
            rows = datasets.load_dataset(entry["dataset"], entry["config"],
                                         data_files=entry["data_files"], split=entry["split"])
            fetched.append({**entry, "rows": len(rows), "fingerprint": rows._fingerprint})
    if plan_["lm_eval_tasks"]:
        from lm_eval.tasks import TaskManager

        log.info("fetching lm-eval tasks %s", ", ".join(plan_["lm_eval_tasks"]))
        # building a task downloads its dataset into the cache
        TaskManager().load_task_or_group(plan_["lm_eval_tasks"])
        fetched.append({"use": "lm-eval tasks", "tasks": plan_["lm_eval_tasks"]})
    record = {"fetched": fetched, "hf_home": os.environ.get("HF_HOME"),
              "wall_time_s": round(time.monotonic() - started, 3),
              "provenance": provenance.collect(config={"plan": plan_})}
    atomic.write_json(out_json, record)
    return record
