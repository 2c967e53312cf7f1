"""Carbon bubbles: one chart per model, countries x configurations, bubble area proportional
to operational gCO2e in the chosen unit of work, values written on the bubbles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..cells import finite_number
from . import common  # common.save: looked up at each call (the layout test wraps it)
from .common import pyplot, read_rows


def format_grams(grams: float) -> str:
    if grams >= 1000:
        return f"{grams / 1000:.3g} kg"
    if grams >= 1:
        return f"{grams:.3g} g"
    if grams >= 1e-3:
        return f"{grams * 1e3:.3g} mg"
    return f"{grams * 1e6:.3g} µg"


def configuration(row: dict[str, str]) -> str:
    return f"{row['variant']}\n@ {row['setup']}"


UNITS_OF_WORK = {
    "output_tokens": ("gco2e_per_1000_output_tokens_", "per 1,000 output tokens of the replay"),
    "fixed_workload_run": ("gco2e_per_fixed_workload_run_", "per run of the fixed workload"),
    "replay_window": (None, "per replay window"),
}


def bubble_rows(carbon_csv: str | Path, summary_csv: str | Path | None, model: str,
                unit_of_work: str) -> list[dict[str, Any]]:
    """(variant, setup, country, grams, intensity) of one model in the chosen unit of work:
    per replay window from the carbon table, per output token or fixed-workload run from the
    summary (the same intensities and PUE)."""
    carbon = [r for r in read_rows(carbon_csv) if r["model"] == model]
    prefix, _ = UNITS_OF_WORK[unit_of_work]
    if prefix is None:
        return [{**r, "grams": float(r["operational_gco2e"])} for r in carbon]
    summary = {(r["variant"], r["setup"]): r for r in read_rows(summary_csv)
               if r["model"] == model}
    rows = []
    for row in carbon:
        grams = finite_number((summary.get((row["variant"], row["setup"])) or {}).get(
            f"{prefix}{row['country']}"))
        if grams is not None:
            rows.append({**row, "grams": grams})
    return rows


def carbon_bubbles(carbon_csv: str | Path, model: str, png: str | Path, svg: str | Path,
                   summary_csv: str | Path | None = None,
                   unit_of_work: str = "replay_window") -> None:
    plt = pyplot()
    rows = bubble_rows(carbon_csv, summary_csv, model, unit_of_work)
    configs = list(dict.fromkeys(configuration(r) for r in rows))
    countries = list(dict.fromkeys(r["country"] for r in rows))
    fig, ax = plt.subplots(figsize=(1.9 * max(3, len(configs)) + 1.5, 0.9 * max(3, len(countries)) + 1.5))
    if not rows:
        ax.text(0.5, 0.5, f"no carbon figures for {model}\n(no setup could run it)",
                ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    else:
        largest = max(r["grams"] for r in rows) or 1.0
        for row in rows:
            x = configs.index(configuration(row))
            y = countries.index(row["country"])
            ax.scatter(x, y, s=3000 * row["grams"] / largest + 20, alpha=0.55, color="#DD8452",
                       edgecolors="#8C4A1E")
            ax.annotate(format_grams(row["grams"]), (x, y), ha="center", va="center", fontsize=9)
        ax.set_xticks(range(len(configs)), configs)
        ax.set_yticks(range(len(countries)),
                      [f"{c}\n{_intensity_label(rows, c)}" for c in countries])
        ax.set_xlim(-0.7, len(configs) - 0.3)
        ax.set_ylim(-0.7, len(countries) - 0.3)
        ax.set_xlabel("variant @ setup")
        ax.set_ylabel("grid (intensity, g CO2e/kWh)")
        ax.grid(alpha=0.2)
    ax.set_title(f"{model}: operational emissions {UNITS_OF_WORK[unit_of_work][1]}\n"
                 f"(bubble area ~ g CO2e)")
    common.save(fig, png, svg)
    plt.close(fig)


def _intensity_label(rows: list[dict[str, str]], country: str) -> str:
    value = next(float(r["intensity_g_per_kwh"]) for r in rows if r["country"] == country)
    return f"{value:.4g}"
