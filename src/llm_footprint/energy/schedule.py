"""Rule prompt_schedule: the same prompts at the same moments for every (model, variant, setup).

Prompts are the first utterance of seeded randomly sampled DailyDialog dialogues; arrival
times come from a seeded process over the window (the thesis's fixed random timestamps:
uniform draws, sorted; or a Poisson process).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from pathlib import Path
from typing import Any

from .. import atomic, provenance
from ..schema import ConfigError

EOU = "__eou__"
# DailyDialog separates punctuation from words ("Hello , how are you ?"); prompts are sent
# the way a person types them
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.!?;:%)\]])")
_SPACE_AFTER_OPEN = re.compile(r"([(\[])\s+")
_SPACED_APOSTROPHE = re.compile(r"\s*’\s*|\s+'\s*(?=(s|t|re|ve|ll|d|m)\b)")


def detokenize(utterance: str) -> str:
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", utterance.strip())
    text = _SPACE_AFTER_OPEN.sub(r"\1", text)
    text = _SPACED_APOSTROPHE.sub("'", text)
    return re.sub(r"\s{2,}", " ", text)


def dailydialog_file_dialogues(path: str | Path) -> list[list[str]]:
    """Dialogues of a file in DailyDialog's text format (CRLF or LF line ends)."""
    dialogues = []
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            if EOU not in line:
                raise ValueError(f"{path}:{line_number}: no {EOU} separator: not DailyDialog's "
                                 "format (utterances separated by __eou__)")
            utterances = [u.strip() for u in line.split(EOU) if u.strip()]
            dialogues.append(utterances)
    if not dialogues:
        raise ValueError(f"{path}: no dialogues")
    return dialogues


def hub_dialogues(prompts: dict[str, Any]) -> list[list[str]]:
    import datasets

    rows = datasets.load_dataset(prompts["dataset"], split=prompts["split"])
    field = prompts["dialog_field"]
    if field not in rows.column_names:
        raise KeyError(f"dataset {prompts['dataset']} has no field {field!r} "
                       f"(fields: {rows.column_names})")
    return [[u for u in dialogue if u and u.strip()] for dialogue in rows[field] if dialogue]


def load_dialogues(prompts: dict[str, Any]) -> tuple[list[list[str]], str]:
    """Dialogues and a sha256 of what they were read from."""
    if prompts["source"] == "dailydialog_file":
        dialogues = dailydialog_file_dialogues(prompts["path"])
    else:
        dialogues = hub_dialogues(prompts)
    digest = hashlib.sha256(json.dumps(dialogues).encode("utf-8")).hexdigest()
    return dialogues, digest


def arrival_times(duration_s: float, mean_interval_s: float, process: str,
                  rng: random.Random) -> list[float]:
    if process == "uniform_sorted":
        count = max(1, round(duration_s / mean_interval_s))
        return sorted(rng.uniform(0, duration_s) for _ in range(count))
    if process == "poisson":
        times, now = [], rng.expovariate(1 / mean_interval_s)
        while now < duration_s:
            times.append(now)
            now += rng.expovariate(1 / mean_interval_s)
        return times
    raise ValueError(f"unknown arrival process {process!r}")


def build_schedule(energy: dict[str, Any]) -> dict[str, Any]:
    settings = energy["schedule"]
    rng = random.Random(settings["seed"])
    times = arrival_times(settings["duration_s"], settings["mean_interval_s"],
                          settings["arrival_process"], rng)
    dialogues, digest = load_dialogues(energy["prompts"])
    with_replacement = len(times) > len(dialogues)
    picks = ([rng.randrange(len(dialogues)) for _ in times] if with_replacement
             else rng.sample(range(len(dialogues)), len(times)))
    requests = [{"index": i, "arrival_s": round(t, 6), "dialogue_index": d,
                 "prompt": detokenize(dialogues[d][0])}
                for i, (t, d) in enumerate(zip(times, picks))]
    return {
        "duration_s": settings["duration_s"],
        "mean_interval_s": settings["mean_interval_s"],
        "arrival_process": settings["arrival_process"],
        "seed": settings["seed"],
        "source": {**energy["prompts"], "dialogues": len(dialogues), "sha256": digest},
        "sampled_with_replacement": with_replacement,
        "n_requests": len(requests),
        "requests": requests,
    }


def write_schedule(energy: dict[str, Any], out_json: str | Path) -> dict[str, Any]:
    schedule = build_schedule(energy)
    schedule["provenance"] = provenance.collect(config={"energy": energy},
                                                seed=energy["schedule"]["seed"])
    atomic.write_json(out_json, schedule)
    return schedule


def check_config(config: dict[str, Any]) -> None:
    """The prompt file and a schedule under which prompts arrive."""
    energy = config["energy"]
    if not energy["enabled"]:
        return
    prompts = energy["prompts"]
    if prompts["source"] == "dailydialog_file":
        if not prompts["path"]:
            raise ConfigError("energy.prompts.path", "is required when source is dailydialog_file")
        if not Path(prompts["path"]).is_file():
            raise ConfigError("energy.prompts.path", f"file {prompts['path']} does not exist")
        try:
            dailydialog_file_dialogues(prompts["path"])
        except ValueError as error:
            raise ConfigError("energy.prompts.path", str(error)) from None
    schedule = energy["schedule"]
    if schedule["mean_interval_s"] > schedule["duration_s"]:
        raise ConfigError("energy.schedule.mean_interval_s",
                          f"{schedule['mean_interval_s']} s is longer than the "
                          f"{schedule['duration_s']} s window: no prompt would arrive")
