"""Rule tradeoff: the companion paper's score opt = Pc (alpha Tc + beta Ec), lower is better.

Definitions (the paper's text is a PDF extraction whose fractions are ambiguous; these make opt
grow when quality drops, as the paper says it does):
- Tc, Ec: time and energy of the tuple divided by its baseline's (the model's baseline
  variant, or for a distilled model its teacher's), on the same setup unless
  ``baseline_setup`` names one;
- per quality metric n, lower-is-better: Pc_n = m / b; higher-is-better with chance score x:
  Pc_n = (b - 0.8 x) / (m - 0.8 x) (the 0.8 leaves a safety net below random guessing);
- the aggregate is the mean over metrics of Pc_n^1.5, so for one metric
  opt = Pc_n^1.5 (alpha Tc + beta Ec).

Columns of tradeoff.csv: ``pc_<task>_<metric>`` is the paper's Pc of one metric (the ratio
above), ``pc_aggregate_pow1_5`` the mean of their 1.5th powers that enters opt, ``tc``, ``ec``,
and ``opt_<weight set>``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import atomic
from .quality.task_sets import resolve_tasks
from .schema import ConfigError

CHANCE_MARGIN = 0.8
PC_EXPONENT = 1.5
# the column holding mean over metrics of Pc_n^1.5 (the per-metric ratios are pc_<task>_<metric>)
PC_AGGREGATE_COLUMN = "pc_aggregate_pow1_5"


def pc_column(task: str, metric: str) -> str:
    """The column of one metric's Pc ratio."""
    return f"pc_{task}_{metric}"


def pc_term(value: float, baseline: float, higher_is_better: bool, chance: float = 0.0) -> float | None:
    """Quality change ratio of one metric; > 1 means worse than the baseline."""
    if higher_is_better:
        denominator = value - CHANCE_MARGIN * chance
        if denominator <= 0:
            return None  # at or below the safety net: the ratio has no meaning
        return (baseline - CHANCE_MARGIN * chance) / denominator
    if baseline <= 0:
        return None
    return value / baseline


def pc_score(terms: Sequence[float]) -> float:
    """Mean over metrics of Pc_n^1.5 (the column ``pc_aggregate_pow1_5``)."""
    return sum(t ** PC_EXPONENT for t in terms) / len(terms)


def opt_score(pc: float, tc: float, ec: float, alpha: float, beta: float) -> float:
    return pc * (alpha * tc + beta * ec)


def _read(path: str | Path | None) -> list[dict[str, str]]:
    if not path:
        return []
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _float(value: Any) -> float | None:
    return None if value in (None, "") else float(value)


def _direction(row: dict[str, str], configured: bool | None) -> bool | None:
    if configured is not None:
        return configured
    text = row.get("higher_is_better", "")
    return {"True": True, "true": True, "False": False, "false": False}.get(text)


def resolve_metrics(tradeoff: dict[str, Any], quality: list[dict[str, str]]) -> list[dict[str, Any]]:
    metrics = tradeoff["metrics"]
    if not metrics and any(r["task"] == "perplexity" for r in quality):
        metrics = [{"task": "perplexity", "metric": "token_perplexity", "chance": 0.0,
                    "higher_is_better": False}]
    return [{"chance": 0.0, "higher_is_better": None, **m} for m in metrics]


def tradeoff_rows(energy: list[dict[str, str]], quality: list[dict[str, str]],
                  tradeoff: dict[str, Any], baseline_variant: str,
                  teachers: dict[str, str | None]) -> list[dict[str, Any]]:
    energy_by = {(r["model"], r["variant"], r["setup"]): r for r in energy}
    quality_by = {(r["model"], r["variant"], r["task"], r["metric"]): r for r in quality}
    metrics = resolve_metrics(tradeoff, quality)
    rows = []
    for (model, variant, setup), measured in sorted(energy_by.items()):
        baseline_model = teachers.get(model) or model
        baseline_setup = tradeoff["baseline_setup"] or setup
        baseline = energy_by.get((baseline_model, baseline_variant, baseline_setup))
        row: dict[str, Any] = {"model": model, "variant": variant, "setup": setup,
                               "baseline_model": baseline_model,
                               "baseline_variant": baseline_variant,
                               "baseline_setup": baseline_setup, "note": ""}
        notes = []
        tc = ec = tc_ci = ec_ci = None
        if baseline is None:
            notes.append("baseline not measured on this setup")
        else:
            tc = _ratio(measured, baseline, tradeoff["time_figure"])
            ec = _ratio(measured, baseline, tradeoff["energy_figure"])
            same = measured is baseline
            tc_ci = _ratio_ci95(measured, baseline, tradeoff["time_figure"], tc, same)
            ec_ci = _ratio_ci95(measured, baseline, tradeoff["energy_figure"], ec, same)
            for name, figure, value in (("Tc", tradeoff["time_figure"], tc),
                                        ("Ec", tradeoff["energy_figure"], ec)):
                if value is None:
                    hint = (" (dynamic energy needs energy.idle_window_s > 0)"
                            if "dynamic" in figure else "")
                    notes.append(f"{name} undefined: {figure} missing or zero for this tuple "
                                 f"or its baseline{hint}")
        terms = []
        for metric in metrics:
            key = pc_column(metric["task"], metric["metric"])
            mine = quality_by.get((model, variant, metric["task"], metric["metric"]))
            base = quality_by.get((baseline_model, baseline_variant, metric["task"], metric["metric"]))
            term = None
            if mine and base:
                direction = _direction(mine, metric["higher_is_better"])
                if direction is None:
                    notes.append(f"direction of {metric['metric']} unknown")
                else:
                    term = pc_term(float(mine["value"]), float(base["value"]), direction,
                                   metric["chance"])
                    if term is None:
                        notes.append(f"{metric['task']}/{metric['metric']} at or below the "
                                     f"safety net (0.8 x chance) or baseline zero: Pc undefined")
            else:
                notes.append(f"{metric['task']}/{metric['metric']} missing")
            row[key] = term
            if term is not None:
                terms.append(term)
        complete = bool(metrics) and len(terms) == len(metrics)
        pc = pc_score(terms) if complete else None
        row[PC_AGGREGATE_COLUMN] = pc
        row.update(tc=tc, ec=ec, time_figure=tradeoff["time_figure"],
                   energy_figure=tradeoff["energy_figure"])
        row.update(tc_ci95_half_width=tc_ci, ec_ci95_half_width=ec_ci)
        for name, weights in tradeoff["weights"].items():
            row[f"opt_{name}"] = (opt_score(pc, tc, ec, weights["alpha"], weights["beta"])
                                  if None not in (pc, tc, ec) else None)
            # the intervals of Tc and Ec, propagated to first order (Pc taken as exact)
            row[f"opt_{name}_ci95_half_width"] = (
                pc * math.hypot(weights["alpha"] * tc_ci, weights["beta"] * ec_ci)
                if None not in (pc, tc_ci, ec_ci) and row[f"opt_{name}"] is not None else None)
        if not metrics:
            notes.append("no quality metric configured or measured")
        row["note"] = "; ".join(notes)
        rows.append(row)
    return rows


def _ratio_ci95(measured: dict[str, str], baseline: dict[str, str], figure: str,
                ratio: float | None, same: bool) -> float | None:
    """Half-width of the 95 % interval of measured / baseline, to first order from the two
    figures' own half-widths (independent runs): ratio x hypot(h_m / m, h_b / b). A tuple
    compared with itself has none; figures measured once (n = 1) give None."""
    if ratio is None:
        return None
    if same:
        return 0.0
    mine, base = _float(measured.get(figure)), _float(baseline.get(figure))
    mine_ci = _float(measured.get(f"{figure}_ci95_half_width"))
    base_ci = _float(baseline.get(f"{figure}_ci95_half_width"))
    if None in (mine_ci, base_ci) or not mine or not base:
        return None
    return abs(ratio) * math.hypot(mine_ci / mine, base_ci / base)


def _ratio(measured: dict[str, str], baseline: dict[str, str], figure: str) -> float | None:
    mine, base = _float(measured.get(figure)), _float(baseline.get(figure))
    if mine is None or not base:
        return None
    return mine / base


def tradeoff_table(energy_csv: str | Path, quality_csv: str | Path | None,
                   tradeoff: dict[str, Any], baseline_variant: str,
                   teachers: dict[str, str | None], out_csv: str | Path) -> list[dict[str, Any]]:
    """results/tables/tradeoff.csv."""
    rows = tradeoff_rows(_read(energy_csv), _read(quality_csv), tradeoff, baseline_variant,
                         teachers)
    for row in rows:
        for key, value in row.items():
            if isinstance(value, float) and not math.isfinite(value):
                row[key] = None
    atomic.write_csv(out_csv, rows)
    return rows


def check_config(config: dict[str, Any]) -> None:
    """Baseline setup, weights, and metrics of tasks the study measures."""
    tradeoff = config["tradeoff"]
    setup = tradeoff["baseline_setup"]
    if setup is not None and config["setups"] and setup not in config["setups"]:
        raise ConfigError("tradeoff.baseline_setup",
                          f"{setup!r} is not a setup (setups: {', '.join(config['setups'])})")
    for name, weights in tradeoff["weights"].items():
        if weights["alpha"] + weights["beta"] <= 0:
            raise ConfigError(f"tradeoff.weights.{name}", "alpha + beta must be positive")
    if config["measurements"]:
        return
    scenario = tradeoff["scenario"]
    if scenario != "timed_replay" and not config["energy"]["scenarios"].get(scenario):
        raise ConfigError("tradeoff.scenario", f"{scenario!r} is not measured: configure "
                                               f"energy.scenarios.{scenario}")
    if scenario == "fixed_workload" and tradeoff["time_figure"] not in ("wall_time_s",
                                                                        "duration_s"):
        raise ConfigError("tradeoff.time_figure",
                          f"{tradeoff['time_figure']!r} is a figure of the timed replay; with "
                          f"tradeoff.scenario fixed_workload use wall_time_s (the workload's time)")
    tasks = {t["name"] for t in resolve_tasks(config["quality"])} | {"perplexity"}
    for index, metric in enumerate(tradeoff["metrics"]):
        if metric["task"] not in tasks:
            raise ConfigError(f"tradeoff.metrics[{index}].task",
                              f"{metric['task']!r} is not a quality task of this study "
                              f"({', '.join(sorted(tasks))})")
