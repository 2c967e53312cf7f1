"""results/tables/summary.csv: one row per (model, variant, setup) with what a reader asks first.

Size and compression ratio; every quality metric and its change against the baseline; energy
per unit of work in each scenario that ran (the replay's energy per output token, the fixed
workload's energy per run, the saturated loop's energy per output token at its knee); gCO2e
per 1,000 output tokens per country; latency p50/p95; the trade-off score; and the break-even:
after how many units of work the compression's own energy is paid back by the saving per unit. Every change against
the baseline carries a two-sided p-value and a yes / no / n/a verdict at 95 %
(llm_footprint.significance).

The baseline of a tuple is its model's baseline variant (a distilled model's teacher's) on the
same setup, as in the trade-off and relative-change tables.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from . import atomic
from .cells import number
from .energy.stats import percentile
from .energy.summary import J_PER_KWH
from .significance import PER_ITEM_ACCURACIES, Comparison, Estimate, compare

# the headline figure of each scenario: (column stem, table figure, factor to the column's unit)
SCENARIO_HEADLINES = {
    "timed_replay": ("replay_energy_per_output_token_j", "hardware_energy_per_output_token_j", 1.0),
    "fixed_workload": ("fixed_workload_energy_per_run_j", "hardware_energy_kwh", J_PER_KWH),
    "saturated": ("saturated_energy_per_output_token_j", "hardware_energy_per_output_token_j", 1.0),
}
TOKENS_PER_CARBON_FIGURE = 1000


def change_stem(column: str) -> str:
    """'replay_energy_per_output_token_j' -> 'replay_energy_per_output_token' (change columns
    are percentages, not the figure's unit)."""
    for suffix in ("_j", "_s", "_mb", "_kwh"):
        if column.endswith(suffix):
            return column.removesuffix(suffix)
    return column


def estimate_of(row: dict[str, Any] | None, figure: str, factor: float = 1.0,
                n_column: str = "repeats") -> Estimate | None:
    """A table row's figure as an Estimate (mean, 95 % half-width, repeats), in the unit the
    factor converts to."""
    if row is None or number(row.get(figure)) is None:
        return None
    half = number(row.get(f"{figure}_ci95_half_width"))
    n = number(row.get(n_column))
    return Estimate(number(row[figure]) * factor, half * factor if half is not None else None,
                    int(n) if n is not None else None)


def quality_estimate(row: dict[str, Any] | None) -> Estimate | None:
    if row is None or number(row.get("value")) is None:
        return None
    items = number(row.get("n_samples"))
    per_item = row.get("metric") in PER_ITEM_ACCURACIES and items is not None
    return Estimate(number(row["value"]), stderr=number(row.get("stderr")),
                    paired_p_value=number(row.get("paired_p_value")),
                    items=int(items) if per_item else None)


def pooled_latency(energy_dir: str | Path, q: float) -> float | None:
    """A percentile of every request's latency over all repeats of a replay (a window serves a
    few requests, so per-window percentiles of them would mean little)."""
    path = Path(energy_dir) / "requests.jsonl"
    if not path.is_file():
        return None
    latencies = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                if record.get("latency_s") is not None:
                    latencies.append(float(record["latency_s"]))
    return percentile(latencies, q) if latencies else None


class Tables:
    """The study's result tables, indexed by tuple."""

    def __init__(self, compression: Sequence[dict], quality: Sequence[dict],
                 energy: Sequence[dict], scenarios: dict[str, Sequence[dict]],
                 carbon: Sequence[dict], tradeoff: Sequence[dict]):
        self.compression = {(r["model"], r["variant"]): r for r in compression}
        self.quality = {(r["model"], r["variant"], r["task"], r["metric"]): r for r in quality}
        self.metrics = list(dict.fromkeys((r["task"], r["metric"]) for r in quality))
        self.direction = {(r["task"], r["metric"]): str(r.get("higher_is_better")) != "False"
                          for r in quality}
        self.energy = {(r["model"], r["variant"], r["setup"]): r for r in energy}
        self.fixed = {(r["model"], r["variant"], r["setup"]): r
                      for r in scenarios.get("fixed_workload", [])}
        # the saturated loop's knee: the batch size beyond which throughput stops paying
        self.knee = {(r["model"], r["variant"], r["setup"]): r
                     for r in scenarios.get("saturated", []) if str(r.get("is_knee")) == "True"}
        self.carbon: dict[tuple, dict[str, dict]] = {}
        for row in carbon:
            self.carbon.setdefault((row["model"], row["variant"], row["setup"]), {})[
                row["country"]] = row
        self.countries = list(dict.fromkeys(r["country"] for r in carbon))
        self.tradeoff = {(r["model"], r["variant"], r["setup"]): r for r in tradeoff}
        self.weight_sets = [c.removeprefix("opt_") for c in (tradeoff[0] if tradeoff else {})
                            if c.startswith("opt_") and not c.endswith("_ci95_half_width")]

    def tuples(self) -> list[tuple[str, str, str]]:
        keys = [*self.energy, *self.fixed, *self.knee]
        return list(dict.fromkeys(keys))

    def scenario_row(self, scenario: str, key: tuple) -> dict | None:
        table = {"timed_replay": self.energy, "fixed_workload": self.fixed,
                 "saturated": self.knee}[scenario]
        return table.get(key)


def _with_comparison(row: dict, stem: str, comparison: Comparison) -> None:
    row.update(comparison.as_columns(stem))


NEVER = "never"
# scenario -> (break-even column, what it counts)
BREAK_EVEN = {"timed_replay": "breakeven_replay_output_tokens",
              "fixed_workload": "breakeven_fixed_workload_runs",
              "saturated": "breakeven_saturated_output_tokens"}


def break_even(compression_j: float, value: Estimate | None,
               baseline: Estimate | None) -> tuple[Any, Any, Any]:
    """Units of work after which the compression's own energy is paid back by the saving per
    unit against the baseline, with the 95 % range the saving's interval gives (the two
    half-widths combined in quadrature); "never" where the variant saves nothing."""
    if value is None or baseline is None:
        return None, None, None
    saving = baseline.mean - value.mean
    if saving <= 0:
        return NEVER, None, None
    halves = [h for h in (value.ci95_half_width, baseline.ci95_half_width) if h is not None]
    if len(halves) < 2:
        return compression_j / saving, None, None
    spread = (halves[0] ** 2 + halves[1] ** 2) ** 0.5
    high = compression_j / (saving - spread) if saving > spread else NEVER
    return compression_j / saving, compression_j / (saving + spread), high


def _break_even_columns(row: dict, compression_kwh: float | None,
                        estimates: dict[str, tuple[Estimate | None, Estimate | None]],
                        replay: dict | None) -> None:
    row["compression_energy_kwh"] = compression_kwh
    for scenario, column in BREAK_EVEN.items():
        value, base = estimates.get(scenario, (None, None))
        middle = low = high = None
        if compression_kwh is not None and not row["is_baseline"]:
            middle, low, high = break_even(compression_kwh * J_PER_KWH, value, base)
        row[column] = middle
        row[f"{column}_ci95_low"] = low
        row[f"{column}_ci95_high"] = high
    # days of serving the replay's workload (its output tokens per second, around the clock)
    tokens = row["breakeven_replay_output_tokens"]
    rate = None
    if replay and number(replay.get("output_tokens")) and number(replay.get("duration_s")):
        rate = number(replay["output_tokens"]) / number(replay["duration_s"])
    row["breakeven_replay_days"] = (tokens if tokens in (None, NEVER) or not rate
                                    else tokens / rate / 86400)


def summary_rows(tables: Tables, baseline_variant: str, teachers: dict[str, str | None],
                 energy_dirs: dict[tuple, str] | None = None,
                 compression_kwh: dict[tuple[str, str], float] | None = None
                 ) -> list[dict[str, Any]]:
    """``compression_kwh``: (model, variant) -> the energy its compression took (a chain's
    steps summed), for the break-even columns."""
    energy_dirs = energy_dirs or {}
    compression_kwh = compression_kwh or {}
    rows = []
    for key in tables.tuples():
        model, variant, setup = key
        base_model = teachers.get(model) or model
        base_key = (base_model, baseline_variant, setup)
        is_baseline = key == base_key
        compressed = tables.compression.get((model, variant)) or {}
        row: dict[str, Any] = {
            "model": model, "variant": variant, "setup": setup,
            "method": compressed.get("method"), "is_baseline": is_baseline,
            "baseline_model": base_model, "baseline_variant": baseline_variant,
            "size_on_disk_mb": number(compressed.get("size_on_disk_mb")),
            "compression_ratio": number(compressed.get("compression_ratio")),
        }
        for task, metric in tables.metrics:
            stem = f"{task}_{metric}"
            value = quality_estimate(tables.quality.get((model, variant, task, metric)))
            base = quality_estimate(tables.quality.get((base_model, baseline_variant, task, metric)))
            row[stem] = value.mean if value else None
            _with_comparison(row, stem, compare(value, None if is_baseline else base))
        estimates = {}
        for scenario, (column, figure, factor) in SCENARIO_HEADLINES.items():
            measured = tables.scenario_row(scenario, key)
            value = estimate_of(measured, figure, factor)
            base = estimate_of(tables.scenario_row(scenario, base_key), figure, factor)
            estimates[scenario] = (value, base)
            row[column] = value.mean if value else None
            row[f"{column}_ci95_half_width"] = value.ci95_half_width if value else None
            row[f"{scenario}_repeats"] = value.n if value else None
            # energy.precision: whether the headline's interval reached its target
            met = (measured or {}).get("precision_target_met")
            row[f"{scenario}_precision_target_met"] = (None if met in (None, "") else
                                                       str(met).lower() == "true")
            if scenario == "saturated":
                row["saturated_knee_batch_size"] = (int(measured["batch_size"]) if measured
                                                    else None)
            _with_comparison(row, change_stem(column),
                             compare(value, None if is_baseline else base))
        _carbon_columns(row, tables, key)
        replay = tables.energy.get(key) or {}
        _break_even_columns(row, compression_kwh.get((model, variant)), estimates, replay)
        row["latency_p50_s"] = number(replay.get("latency_p50_s"))
        row["latency_p95_s"] = (pooled_latency(energy_dirs[key], 95) if key in energy_dirs
                                else number(replay.get("latency_p95_s")))
        row["ttft_p50_s"] = number(replay.get("ttft_p50_s"))
        row["ttft_p90_s"] = number(replay.get("ttft_p90_s"))
        scored = tables.tradeoff.get(key) or {}
        for name in tables.weight_sets:
            row[f"opt_{name}"] = number(scored.get(f"opt_{name}"))
        rows.append(row)
    return rows


def _carbon_columns(row: dict, tables: Tables, key: tuple) -> None:
    """gCO2e per 1,000 output tokens of the replay and per fixed-workload run, per country (the
    energy per unit x PUE x the grid's intensity, hourly-weighted where the carbon table is),
    and the country where the replay's is lowest."""
    per_token_j = row.get("replay_energy_per_output_token_j")
    by_country = tables.carbon.get(key) or {}
    grams = {}
    for country in tables.countries:
        entry = by_country.get(country)
        if per_token_j is None or entry is None:
            grams[country] = None
            continue
        kwh = per_token_j * TOKENS_PER_CARBON_FIGURE / J_PER_KWH
        grams[country] = kwh * number(entry["pue"]) * number(entry["intensity_g_per_kwh"])
        row[f"gco2e_per_1000_output_tokens_{country}"] = grams[country]
    for country in tables.countries:
        row.setdefault(f"gco2e_per_1000_output_tokens_{country}", None)
    per_run_j = row.get("fixed_workload_energy_per_run_j")
    for country in tables.countries:
        entry = by_country.get(country)
        row[f"gco2e_per_fixed_workload_run_{country}"] = (
            per_run_j / J_PER_KWH * number(entry["pue"]) * number(entry["intensity_g_per_kwh"])
            if per_run_j is not None and entry is not None else None)
    present = {c: g for c, g in grams.items() if g is not None}
    best = min(present, key=present.get) if present else None
    row["lowest_carbon_country"] = best
    row["highest_to_lowest_carbon_factor"] = (max(present.values()) / present[best]
                                              if best and present[best] else None)


def columns_of(rows: Iterable[dict]) -> list[str]:
    return list(dict.fromkeys(c for r in rows for c in r))


def summary_table(tables: Tables, baseline_variant: str, teachers: dict[str, str | None],
                  out_csv: str | Path, energy_dirs: dict[tuple, str] | None = None,
                  compression_kwh: dict[tuple[str, str], float] | None = None) -> list[dict]:
    rows = summary_rows(tables, baseline_variant, teachers, energy_dirs, compression_kwh)
    if not rows:
        raise RuntimeError("no tuple was measured: the summary would be empty")
    atomic.write_csv(out_csv, rows, columns_of(rows))
    return rows
