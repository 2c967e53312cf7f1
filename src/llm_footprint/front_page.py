"""The report's front page (reStructuredText), written from the study's own tables: what ran,
the summary with each change's significance, the recommendation, where and when to run, and the
study's own footprint where it was tracked.

Snakemake renders the page through Jinja2 and docutils when it builds the report; the static
introduction (workflow/report/workflow.rst) comes first, unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import atomic
from .cells import number
from .summary import SCENARIO_HEADLINES, change_stem

SCENARIO_NAMES = {"timed_replay": "timed replay", "fixed_workload": "fixed workload",
                  "saturated": "saturated closed loop"}
# "*" alone would open an emphasis in reStructuredText
MARKS = {"yes": " \\*", "no": "", "n/a": " n/a"}


def fmt(value: Any, digits: int = 3) -> str:
    number_ = number(value)
    if number_ is None:
        return "n/a"
    return f"{number_:.{digits}g}"


def not_met(value: Any) -> bool:
    """A precision target missed: False as computed, or "False" as read back from a CSV (an
    empty cell, a figure without a target, is not a miss)."""
    return value is False or str(value).strip().lower() == "false"


def with_change(row: dict[str, Any], column: str, stem: str | None = None,
                digits: int = 3) -> str:
    """'24.0 (+28.4 % *)': the value, its change against the baseline, * when significant."""
    text = fmt(row.get(column), digits)
    half = number(row.get(f"{column}_ci95_half_width"))
    if half is not None:
        text += f" ± {half:.2g}"
    stem = stem or column
    change = number(row.get(f"{stem}_change_pct"))
    if change is not None:
        text += f" ({change:+.1f} %{MARKS.get(str(row.get(f'{stem}_significant')), '')})"
    return text


def list_table(title: str, headers: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    lines = [f".. list-table:: {title}", "   :header-rows: 1", ""]
    for cells in [headers, *body]:
        lines.append(f"   * - {cells[0]}")
        lines.extend(f"     - {cell}" for cell in cells[1:])
    return [*lines, ""]


def section(title: str) -> list[str]:
    return [title, "-" * len(title), ""]


def what_ran(summary: list[dict], compression: list[dict], scenarios: Sequence[str]) -> list[str]:
    models = list(dict.fromkeys(r["model"] for r in summary))
    setups = list(dict.fromkeys(r["setup"] for r in summary))
    methods = list(dict.fromkeys(r["method"] for r in compression if r.get("method")))
    lines = [f"**What ran**: {len(summary)} (model, variant, setup) tuples; models "
             f"{', '.join(models)}; variants {', '.join(dict.fromkeys(r['variant'] for r in summary))}"]
    if methods:
        lines[0] += f" (methods {', '.join(methods)})"
    lines[0] += (f"; setups {', '.join(setups)}; energy scenarios "
                 f"{', '.join(SCENARIO_NAMES[s] for s in scenarios)}.")
    return [*lines, ""]


def quality_stems(summary: list[dict]) -> list[str]:
    row = summary[0] if summary else {}
    return [c.removesuffix("_significant") for c in row
            if c.endswith("_significant")
            and not any(c.startswith(change_stem(h[0])) for h in SCENARIO_HEADLINES.values())]


def summary_section(summary: list[dict], scenarios: Sequence[str],
                    metrics: Sequence[str] = ()) -> list[str]:
    """``metrics``: the quality columns to show (``<task>_<metric>``, those the trade-off and
    the recommendation use); every metric when empty (the CSV always has them all)."""
    stems = [s for s in quality_stems(summary) if not metrics or s in metrics]
    headers = ["variant @ setup", "size MB (ratio)", *[s.replace("_", " ") for s in stems]]
    energy_columns = [(s, *SCENARIO_HEADLINES[s]) for s in ("timed_replay", "fixed_workload",
                                                           "saturated") if s in scenarios]
    units = {"timed_replay": "replay J / output token", "fixed_workload": "fixed workload J / run",
             "saturated": "saturated J / output token (knee batch)"}
    headers += [units[s] for s, *_ in energy_columns]
    country_columns = [c for c in (summary[0] if summary else {})
                       if c.startswith("gco2e_per_1000_output_tokens_")]
    headers += [f"g CO2e / 1000 tokens, {c.rsplit('_', 1)[1]}" for c in country_columns[:1]]
    headers += ["latency p50 / p95 s"]
    body, imprecise = [], []
    for row in summary:
        cells = [f"{row['model']} / {row['variant']} @ {row['setup']}",
                 f"{fmt(row.get('size_on_disk_mb'), 4)} ({fmt(row.get('compression_ratio'), 3)}x)"]
        cells += [with_change(row, stem, digits=4) for stem in stems]
        for scenario, column, _figure, _factor in energy_columns:
            text = with_change(row, column, change_stem(column))
            if scenario == "saturated" and row.get("saturated_knee_batch_size") is not None:
                text += f" (batch {row['saturated_knee_batch_size']})"
            if not_met(row.get(f"{scenario}_precision_target_met")):
                text += " †"
                imprecise.append(f"{row['variant']} @ {row['setup']} ({units[scenario]})")
            cells.append(text)
        cells += [fmt(row.get(c)) for c in country_columns[:1]]
        cells.append(f"{fmt(row.get('latency_p50_s'))} / {fmt(row.get('latency_p95_s'))}")
        body.append(cells)
    lines = section("Study summary")
    lines += ["Each figure is the mean over the repeats, ± its 95 % interval; in brackets its "
              "change against the baseline, marked \\* where significant at 95 % (Welch's t on "
              "the repeats for energy, Fisher's exact test on the items passed for "
              "accuracies, a z-test on the standard errors for other quality metrics, a paired "
              "t on the same tokens' NLL, block by block, for token perplexity), n/a where "
              "it cannot be tested (fewer than two repeats or no interval). Full table: "
              "``tables/summary.csv``.", ""]
    lines += list_table("Per tuple", headers, body)
    if imprecise:
        lines += ["† Its 95 % interval did not reach the precision target (energy.precision) "
                  "within the repeats or minutes allowed: " + "; ".join(imprecise) + ". See the "
                  "precision_* columns of the energy and scenario tables.", ""]
    return lines


def significant_changes(summary: list[dict]) -> list[str]:
    """One line per compressed tuple: which of its changes are significant."""
    lines = ["Which changes against the baseline are real (at 95 %; every metric of the study):",
             ""]
    for row in summary:
        if str(row.get("is_baseline")) == "True":
            continue
        real = [c.removesuffix("_significant").replace("_", " ") for c, v in row.items()
                if c.endswith("_significant") and v == "yes"]
        not_real = [c.removesuffix("_significant").replace("_", " ") for c, v in row.items()
                    if c.endswith("_significant") and v == "no"]
        if not real and not not_real:
            continue
        lines.append(f"- **{row['variant']} @ {row['setup']}**: significant: "
                     f"{', '.join(real) or 'none'}; not significant: {', '.join(not_real) or 'none'}")
    return [*lines, ""] if len(lines) > 2 else []


def recommendation_section(rows: list[dict], recommend: dict[str, Any]) -> list[str]:
    lines = section("Recommendation")
    floors = "; ".join(f"{f['task']} {f['metric']} at most {f['max_worsening_pct']:g} % worse"
                       for f in recommend["quality_floors"]) or "no quality floor"
    limits = "; ".join(f"{k.removeprefix('max_')} <= {v:g} s"
                       for k, v in recommend["latency"].items() if v is not None) or "no latency limit"
    objective = recommend["objective"]
    country = f" in {objective['country']}" if objective["figure"] == "gco2e" else ""
    lines += [f"Constraints: {floors}; {limits}; setups "
              f"{', '.join(recommend['setups']) or 'all'}. Objective: lowest {objective['figure']}"
              f"{country} per unit of work of the {SCENARIO_NAMES[objective['scenario']]}.", ""]
    winner = next((r for r in rows if str(r.get("winner")) == "True"), None)
    if winner is None:
        lines += ["**No tuple meets every constraint.**", ""]
    else:
        unit = winner["objective_unit"]
        half = number(winner.get("objective_ci95_half_width"))
        lines += [f"**Choose {winner['model']} / {winner['variant']} @ {winner['setup']}**: "
                  f"{fmt(winner['objective_value'])}"
                  + (f" ± {half:.2g}" if half is not None else "") + f" {unit}.", ""]
        ties = [r for r in rows if r.get("indistinguishable_from_winner") == "yes"]
        untested = [r for r in rows if r.get("indistinguishable_from_winner") == "n/a"]
        lines += ["Statistically indistinguishable from it at 95 %: "
                  + (", ".join(f"{r['variant']} @ {r['setup']} ({fmt(r['objective_value'])})"
                               for r in ties) or "none") + ".", ""]
        if untested:
            lines += ["Not testable (no interval): "
                      + ", ".join(f"{r['variant']} @ {r['setup']}" for r in untested) + ".", ""]
    left = [r for r in rows if str(r.get("feasible")) != "True"]
    if left:
        lines += ["Left out:", ""]
        lines += [f"- {r['variant']} @ {r['setup']}: {r['breaks']}" for r in left]
        lines.append("")
    lines.append("Full table: ``tables/recommendation.csv``.")
    return [*lines, ""]


def where_and_when(summary: list[dict], hourly: dict[str, dict[int, float]] | None) -> list[str]:
    """The grid (and hour, with an hourly profile) that minimises the replay's gCO2e."""
    lines = section("Where and when")
    rows = [r for r in summary if r.get("lowest_carbon_country")]
    if not rows:
        return []
    countries = [c.removeprefix("gco2e_per_1000_output_tokens_") for c in rows[0]
                 if c.startswith("gco2e_per_1000_output_tokens_")]
    best = {r["lowest_carbon_country"] for r in rows}
    if len(best) == 1:  # one grid is best for every tuple: say it once
        country = best.pop()
        grams = [number(r.get(f"gco2e_per_1000_output_tokens_{country}")) for r in rows]
        highest = max(countries, key=lambda c: number(rows[0].get(
            f"gco2e_per_1000_output_tokens_{c}")) or 0)
        lines += [f"For every tuple the replay emits least in {country} "
                  f"({fmt(min(g for g in grams if g is not None))} to "
                  f"{fmt(max(g for g in grams if g is not None))} g CO2e per 1,000 output "
                  f"tokens), {fmt(rows[0].get('highest_to_lowest_carbon_factor'))} x less than "
                  f"in {highest}, the highest of the study's grids.", ""]
        rows = []
    for row in rows:
        best = row["lowest_carbon_country"]
        grams = number(row.get(f"gco2e_per_1000_output_tokens_{best}"))
        factor = number(row.get("highest_to_lowest_carbon_factor"))
        lines.append(f"- {row['variant']} @ {row['setup']}: lowest in {best} "
                     f"({fmt(grams)} g CO2e per 1,000 output tokens), "
                     f"{fmt(factor)} x less than the highest grid of the study")
    lines.append("")
    if hourly:
        best_country, best_hour, best_value = min(
            ((c, h, v) for c, hours in hourly.items() for h, v in hours.items()),
            key=lambda item: item[2])
        worst = max(v for hours in hourly.values() for v in hours.values())
        lines += [f"With the hourly profile: the lowest intensity is {best_country} at hour "
                  f"{best_hour} ({best_value:.4g} g/kWh), {worst / best_value:.3g} x below the "
                  f"profile's highest.", ""]
    return lines


def break_even_section(summary: list[dict]) -> list[str]:
    """After how much serving each compression pays back its own energy."""
    rows = [r for r in summary if str(r.get("is_baseline")) != "True"
            and number(r.get("compression_energy_kwh")) is not None]
    if not rows:
        return []
    lines = section("Break-even")
    lines += ["The compression's own energy (its job and a chain's steps, tracked) over the "
              "energy it saves per unit of work against the baseline; in brackets the 95 % "
              "range the saving's interval allows; \"never\" where the variant saves nothing "
              "per unit.", ""]

    def count(row: dict, column: str) -> str:
        value = row.get(column)
        if value in (None, ""):
            return "n/a"
        if value == "never":
            return "never"
        text = f"{float(value):.3g}"
        low, high = row.get(f"{column}_ci95_low"), row.get(f"{column}_ci95_high")
        if low not in (None, ""):
            text += f" ({float(low):.3g} to {high if high == 'never' else f'{float(high):.3g}'})"
        return text

    headers = ["variant @ setup", "compression kWh", "replay: output tokens",
               "replay: days at its request rate", "fixed workload: runs",
               "saturated: output tokens"]
    body = [[f"{r['model']} / {r['variant']} @ {r['setup']}",
             fmt(r.get("compression_energy_kwh")),
             count(r, "breakeven_replay_output_tokens"),
             fmt(r.get("breakeven_replay_days")) if r.get("breakeven_replay_days") != "never"
             else "never",
             count(r, "breakeven_fixed_workload_runs"),
             count(r, "breakeven_saturated_output_tokens")] for r in rows]
    return lines + list_table("Break-even", headers, body)


def footprint_section(rows: list[dict]) -> list[str]:
    if not rows:
        return []
    countries = [c.removeprefix("gco2e_") for c in rows[0] if c.startswith("gco2e_")]
    lines = section("The study's own footprint")
    lines += ["Heavy jobs measured whole by a tracker of their own; the energy measurements by "
              "their measured windows. Full table: ``tables/study_footprint.csv``.", ""]
    headers = ["rule", "jobs", "kWh", *[f"g CO2e {c}" for c in countries], "wall time s",
               "GPU-hours"]
    body = [[f"**{r['rule']}**" if r["rule"] == "total" else r["rule"], str(r["jobs"]),
             fmt(r.get("hardware_energy_kwh")), *[fmt(r.get(f"gco2e_{c}")) for c in countries],
             fmt(r.get("wall_time_s"), 4), fmt(r.get("gpu_hours"))] for r in rows]
    return lines + list_table("Per rule", headers, body)


def front_page(intro: str, summary: list[dict], recommendation: list[dict],
               recommend: dict[str, Any], compression: list[dict], scenarios: Sequence[str],
               hourly: dict[str, dict[int, float]] | None, out_rst: str | Path,
               footprint: Sequence[dict] = (), metrics: Sequence[str] = ()) -> str:
    lines = [intro.rstrip(), "", *what_ran(summary, compression, scenarios)]
    lines += summary_section(summary, scenarios, metrics)
    lines += significant_changes(summary)
    lines += recommendation_section(recommendation, recommend)
    lines += where_and_when(summary, hourly)
    lines += break_even_section(summary)
    lines += footprint_section(list(footprint))
    text = "\n".join(lines).rstrip() + "\n"
    with atomic.staged_file(out_rst, "w") as handle:
        handle.write(text)
    return text
