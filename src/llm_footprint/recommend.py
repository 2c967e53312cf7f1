"""results/tables/recommendation.csv: which (model, variant, setup) to choose under the user's
constraints (config section ``recommend``), from the study summary.

A tuple is feasible when every quality floor holds (its metric worsens by at most the allowed
percentage against the baseline: up for lower-is-better metrics such as perplexity, down for
accuracies), its latencies are within the limits, and its setup is allowed. Feasible tuples are
ranked by the objective (lower is better); the winner is the first, and every other feasible
tuple whose objective cannot be told apart from the winner's at 95 % (Welch's t on the
repeats; "n/a" where either side has no interval) is listed beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import atomic
from .cells import number
from .significance import NOT_SIGNIFICANT, NOT_TESTED, Estimate, compare
from .summary import SCENARIO_HEADLINES, TOKENS_PER_CARBON_FIGURE

OBJECTIVES = ("energy", "gco2e")
LATENCY_LIMITS = {"max_latency_p95_s": "latency_p95_s", "max_latency_p50_s": "latency_p50_s",
                  "max_ttft_p50_s": "ttft_p50_s", "max_ttft_p90_s": "ttft_p90_s"}
COLUMNS = ["rank", "model", "variant", "setup", "feasible", "breaks", "objective",
           "objective_unit", "objective_value", "objective_ci95_half_width", "objective_repeats",
           "winner", "indistinguishable_from_winner", "p_value_against_winner"]


def objective_of(recommend: dict[str, Any]) -> tuple[str, str, str]:
    """(summary column, its interval column, unit text) of the configured objective."""
    objective = recommend["objective"]
    column = SCENARIO_HEADLINES[objective["scenario"]][0]
    unit = "J per output token" if column.endswith("_per_output_token_j") else "J per run"
    if objective["figure"] == "gco2e":
        unit = unit.replace("J", f"gCO2e ({objective['country']})")
    return column, f"{column}_ci95_half_width", unit


def _grams_factor(row: dict[str, Any], country: str) -> float | None:
    """g CO2e per J of this tuple's grid: its replay gCO2e per 1,000 tokens over its J per
    1,000 tokens (the carbon table's intensity and PUE for that country)."""
    grams = number(row.get(f"gco2e_per_1000_output_tokens_{country}"))
    per_token_j = number(row.get("replay_energy_per_output_token_j"))
    if grams is None or not per_token_j:
        return None
    return grams / (per_token_j * TOKENS_PER_CARBON_FIGURE)


def objective_estimate(row: dict[str, Any], recommend: dict[str, Any]) -> Estimate | None:
    column, half_column, _ = objective_of(recommend)
    value = number(row.get(column))
    if value is None:
        return None
    half = number(row.get(half_column))
    repeats = number(row.get(f"{recommend['objective']['scenario']}_repeats"))
    factor = 1.0
    if recommend["objective"]["figure"] == "gco2e":
        factor = _grams_factor(row, recommend["objective"]["country"])
        if factor is None:
            return None
    return Estimate(value * factor, half * factor if half is not None else None,
                    int(repeats) if repeats is not None else None)


def worsening_pct(row: dict[str, Any], task: str, metric: str,
                  higher_is_better: bool) -> float | None:
    change = number(row.get(f"{task}_{metric}_change_pct"))
    if change is None:
        return None
    return -change if higher_is_better else change


def broken_constraints(row: dict[str, Any], recommend: dict[str, Any],
                       directions: dict[tuple[str, str], bool]) -> list[str]:
    broken = []
    allowed = recommend["setups"]
    if allowed and row["setup"] not in allowed:
        broken.append(f"setup {row['setup']} not in recommend.setups")
    for floor in recommend["quality_floors"]:
        task, metric = floor["task"], floor["metric"]
        if str(row.get("is_baseline")) == "True":
            continue  # the baseline is the reference of every floor
        worse = worsening_pct(row, task, metric, directions.get((task, metric), True))
        if worse is None:
            broken.append(f"{task} {metric} not measured against the baseline")
        elif worse > floor["max_worsening_pct"]:
            broken.append(f"{task} {metric} {worse:+.1f} % worse (limit "
                          f"{floor['max_worsening_pct']:g} %)")
    for key, column in LATENCY_LIMITS.items():
        limit = recommend["latency"].get(key)
        if limit is None:
            continue
        value = number(row.get(column))
        if value is None:
            broken.append(f"{column} not measured")
        elif value > limit:
            broken.append(f"{column} {value:.3g} s > {limit:g} s")
    if objective_estimate(row, recommend) is None:
        broken.append(f"no {objective_of(recommend)[0]} measured")
    return broken


def recommendation_rows(summary: list[dict[str, Any]], recommend: dict[str, Any],
                        directions: dict[tuple[str, str], bool]) -> list[dict[str, Any]]:
    _, _, unit = objective_of(recommend)
    rows = []
    for entry in summary:
        broken = broken_constraints(entry, recommend, directions)
        estimate = objective_estimate(entry, recommend)
        rows.append({
            "model": entry["model"], "variant": entry["variant"], "setup": entry["setup"],
            "feasible": not broken, "breaks": "; ".join(broken),
            "objective": f"{recommend['objective']['figure']} ({recommend['objective']['scenario']})",
            "objective_unit": unit,
            "objective_value": estimate.mean if estimate else None,
            "objective_ci95_half_width": estimate.ci95_half_width if estimate else None,
            "objective_repeats": estimate.n if estimate else None,
            "_estimate": estimate,
        })
    feasible = sorted((r for r in rows if r["feasible"]), key=lambda r: r["objective_value"])
    winner = feasible[0] if feasible else None
    for rank, row in enumerate(feasible, start=1):
        row["rank"] = rank
    for row in rows:
        row.setdefault("rank", None)
        row["winner"] = row is winner
        if winner is None or not row["feasible"] or row is winner:
            row["indistinguishable_from_winner"] = None
            row["p_value_against_winner"] = None
            continue
        comparison = compare(row["_estimate"], winner["_estimate"])
        row["p_value_against_winner"] = comparison.p_value
        row["indistinguishable_from_winner"] = (
            "yes" if comparison.significant == NOT_SIGNIFICANT
            else "n/a" if comparison.significant == NOT_TESTED else "no")
    for row in rows:
        del row["_estimate"]
    return sorted(rows, key=lambda r: (r["rank"] is None, r["rank"] or 0))


def recommendation_table(summary: list[dict[str, Any]], recommend: dict[str, Any],
                         directions: dict[tuple[str, str], bool],
                         out_csv: str | Path) -> list[dict[str, Any]]:
    rows = recommendation_rows(summary, recommend, directions)
    atomic.write_csv(out_csv, rows, COLUMNS)
    return rows


def check_config(config: dict[str, Any]) -> None:
    """Objective scenario configured, its country accounted for, floors on known metrics
    directions; raised as ConfigError naming the key."""
    from .quality.task_sets import resolve_tasks
    from .schema import ConfigError

    recommend = config.get("recommend") or {}
    objective = recommend.get("objective") or {}
    scenario = objective.get("scenario", "timed_replay")
    imported = bool(config.get("measurements"))
    if imported and scenario != "timed_replay":
        raise ConfigError("recommend.objective.scenario",
                          "imported measurements hold the replay's figures only: use "
                          "timed_replay")
    if not imported and scenario != "timed_replay" and not (config.get("energy") or {}).get(
            "scenarios", {}).get(scenario):
        raise ConfigError("recommend.objective.scenario",
                          f"scenario {scenario} is not configured under energy.scenarios")
    if objective.get("figure") == "gco2e":
        countries = (config.get("carbon") or {}).get("countries") or []
        if objective.get("country") not in countries:
            raise ConfigError("recommend.objective.country",
                              f"{objective.get('country')!r} is not one of carbon.countries "
                              f"{countries}")
    unit = (config.get("report") or {}).get("unit_of_work")
    if unit == "fixed_workload_run" and (imported or not (config.get("energy") or {}).get(
            "scenarios", {}).get("fixed_workload")):
        raise ConfigError("report.unit_of_work",
                          "fixed_workload_run needs energy.scenarios.fixed_workload")
    setups = config.get("setups") or {}
    for index, setup in enumerate(recommend.get("setups") or []):
        if setup not in setups:
            raise ConfigError(f"recommend.setups[{index}]",
                              f"unknown setup {setup!r} (setups: {sorted(setups)})")
    if imported:
        return
    tasks = {t["name"] for t in resolve_tasks(config["quality"])} | {"perplexity"}
    for index, floor in enumerate(recommend.get("quality_floors") or []):
        if floor["task"] not in tasks:
            raise ConfigError(f"recommend.quality_floors[{index}].task",
                              f"{floor['task']!r} is not a quality task of this study "
                              f"({', '.join(sorted(tasks))})")
