"""Rule evaluate: every quality task of the study on one (model, variant), one model load.

The checkpoint is loaded by the same loader the energy stage uses, entirely on the default
setup's device, and handed to lm-eval as an already-loaded model.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

from .. import atomic, provenance
from ..checkpoint_info import sha256_file
from ..loading import load_for_inference
from . import nltk_offline
from .lm_tasks import lm_eval_task
from .local_data import read_records
from .perplexity import WIKITEXT_HUB, token_perplexity
from .task_names import task_manager_for
from .task_sets import resolve_tasks

log = logging.getLogger(__name__)

# lm-eval result keys kept in the raw record (samples only when asked for)
RAW_KEYS = ("results", "groups", "group_subtasks", "configs", "versions", "n-shot",
            "higher_is_better", "n-samples")


def limit_value(limit: float | None) -> int | float | None:
    """lm-eval reads an int as a document count and a float below 1 as a fraction."""
    if limit is None:
        return None
    return int(limit) if float(limit).is_integer() and limit >= 1 else float(limit)


def _metric_entry(result: dict[str, Any], task: str) -> dict[str, Any]:
    entry = (result.get("groups") or {}).get(task) or result["results"].get(task)
    if not entry:
        raise RuntimeError(f"lm-eval returned no results for task {task!r}")
    return entry


def _n_samples(result: dict[str, Any], task: str) -> int | None:
    counts = result.get("n-samples", {})
    if task in counts:
        return int(counts[task]["effective"])
    subtasks = (result.get("group_subtasks") or {}).get(task) or []
    found = [int(counts[t]["effective"]) for t in subtasks if t in counts]
    return sum(found) if found else None


def tidy_rows(result: dict[str, Any], spec: dict[str, Any], model: str,
              variant: str) -> list[dict[str, Any]]:
    """One row per metric of the task: value, stderr, sample count and direction."""
    task = spec["name"]
    entry = _metric_entry(result, task)
    directions = (result.get("higher_is_better") or {}).get(task, {})
    rows = []
    for key, value in entry.items():
        if "," not in key or key.split(",")[0].endswith("_stderr"):
            continue
        metric, filter_name = key.split(",", 1)
        stderr = entry.get(f"{metric}_stderr,{filter_name}")
        rows.append({
            "model": model, "variant": variant, "task": task,
            "metric": metric if filter_name == "none" else f"{metric},{filter_name}",
            "value": float(value),
            "stderr": float(stderr) if isinstance(stderr, (int, float)) else None,
            "n_samples": _n_samples(result, task),
            "num_fewshot": spec["num_fewshot"], "limit": spec["limit"],
            "higher_is_better": directions.get(metric),
        })
    if not rows:
        raise RuntimeError(f"task {task!r} produced no metric: {sorted(entry)}")
    for row in rows:
        if not math.isfinite(row["value"]):
            raise RuntimeError(f"task {task!r}: metric {row['metric']} is {row['value']}")
    return rows


def perplexity_text(quality: dict[str, Any], tasks: list[dict[str, Any]]) -> tuple[str, str]:
    """The text token-level perplexity runs over, and where it came from."""
    settings = quality["perplexity"]
    if settings["source"] == "text_file":
        path = Path(settings["path"])
        return path.read_text(encoding="utf-8").replace("\r\n", "\n"), str(path)
    wikitext = next((t for t in tasks if t["name"] == "wikitext" and t.get("data")), None)
    if wikitext:
        path = Path(wikitext["data"])
        if path.suffix in (".txt", ".raw"):
            return path.read_text(encoding="utf-8").replace("\r\n", "\n"), str(path)
        return "\n\n".join(r["page"] for r in read_records("wikitext", path)), str(path)
    import datasets

    name, config, split = WIKITEXT_HUB
    rows = datasets.load_dataset(name, config, split=split)
    return "\n\n".join(rows["text"]), f"{name}/{config}:{split}"


def _data_record(spec: dict[str, Any]) -> dict[str, Any]:
    record = dict(spec)
    for key in ("data", "fewshot_data"):
        path = spec.get(key)
        record[f"{key}_sha256"] = sha256_file(path) if path and Path(path).is_file() else None
    return record


def evaluate_checkpoint(model_id: str, variant_id: str, checkpoint_dir: str | Path,
                        quality: dict[str, Any], setup_id: str, setup: dict[str, Any],
                        nltk_data: str | Path | None, out_json: str | Path, threads: int = 1,
                        study_name: str | None = None) -> dict[str, Any]:
    started = time.monotonic()
    tasks = resolve_tasks(quality)
    if any(spec["name"] == "ifeval" for spec in tasks):
        if not nltk_data:
            raise ValueError("quality task ifeval needs NLTK's punkt tables (nltk_data)")
        nltk_offline.use(nltk_data)  # before lm-eval's IFEval module is imported
    seed = quality["seed"]
    loaded = load_for_inference(checkpoint_dir, setup["device"], threads)

    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=loaded.model, tokenizer=loaded.tokenizer, batch_size=1,
              max_length=quality["max_length"])
    task_manager = task_manager_for([spec["name"] for spec in tasks])
    rows: list[dict[str, Any]] = []
    raw: dict[str, Any] = {}
    task_records = []
    for index, spec in enumerate(tasks, start=1):
        log.info("task %d/%d: %s (%d-shot, limit %s, data %s)", index, len(tasks), spec["name"],
                 spec["num_fewshot"], spec["limit"], spec["data"] or "hub")
        lm.batch_size_per_gpu = spec["batch_size"]
        task_started = time.monotonic()
        result = simple_evaluate(
            model=lm, tasks=[lm_eval_task(spec, task_manager)], num_fewshot=spec["num_fewshot"],
            limit=limit_value(spec["limit"]),
            gen_kwargs={"max_gen_toks": spec["max_gen_toks"]} if spec["max_gen_toks"] else None,
            log_samples=quality["log_samples"], apply_chat_template=quality["apply_chat_template"],
            task_manager=task_manager, random_seed=seed, numpy_random_seed=seed,
            torch_random_seed=seed, fewshot_random_seed=seed)
        task_rows = tidy_rows(result, spec, model_id, variant_id)
        rows.extend(task_rows)
        raw[spec["name"]] = {k: result.get(k) for k in RAW_KEYS}
        if quality["log_samples"]:
            raw[spec["name"]]["samples"] = result.get("samples")
        task_records.append({**_data_record(spec),
                             "wall_time_s": round(time.monotonic() - task_started, 3)})
        log.info("task %s done in %.0f s: %s", spec["name"], time.monotonic() - task_started,
                 ", ".join(f"{r['metric']}={r['value']:.4g}" for r in task_rows))

    perplexity = None
    if quality["perplexity"]["enabled"]:
        settings = quality["perplexity"]
        text, text_source = perplexity_text(quality, tasks)
        perplexity = token_perplexity(loaded.model, loaded.tokenizer, text,
                                      settings["context_tokens"], settings["stride"],
                                      settings["max_windows"], settings["batch_size"],
                                      pairing=True)
        perplexity["text_source"] = text_source
        if not math.isfinite(perplexity["token_perplexity"]):
            raise RuntimeError(f"token-level perplexity is {perplexity['token_perplexity']}")
        rows.append({"model": model_id, "variant": variant_id, "task": "perplexity",
                     "metric": "token_perplexity", "value": perplexity["token_perplexity"],
                     "stderr": perplexity["token_perplexity_stderr"],
                     "n_samples": perplexity["tokens_scored"], "num_fewshot": 0,
                     "limit": None, "higher_is_better": False})
        log.info("token-level perplexity %.4f over %d tokens", perplexity["token_perplexity"],
                 perplexity["tokens_scored"])
    if not rows:
        raise RuntimeError("the quality stage has no task and no perplexity: nothing measured")

    payload = {
        "study": study_name, "model": model_id, "variant": variant_id, "setup": setup_id,
        "device": loaded.device, "dtype": loaded.dtype,
        "cpu_capability": loaded.details["cpu_capability"], "loader": loaded.details,
        "load_time_s": round(loaded.load_time_s, 3), "tasks": task_records, "rows": rows,
        "perplexity": perplexity, "lm_eval": raw,
        "wall_time_s": round(time.monotonic() - started, 3),
        "provenance": provenance.collect(config={"quality": quality, "setup": setup,
                                                 "manifest": loaded.manifest}, seed=seed),
    }
    atomic.write_json(out_json, payload)
    return payload
