"""The study's figures (matplotlib, PNG and SVG), drawn from the result tables.

- carbon bubbles: one chart per model, countries x configurations, bubble area proportional to
  operational gCO2e, values written on the bubbles (the thesis's Figure 42);
- energy components: CPU / GPU / RAM shares of hardware energy per tuple (Figures 40-41);
- quality vs energy with the Pareto front;
- relative change against the baseline as a table (Tables 27-28);
- feasibility matrix: which (model, variant) fits which setup, with the memory estimate;
- the companion paper's Figures 2-4: per model, the change of perplexity (or the report's
  quality metric), runtime and energy of each variant against its baseline, as grouped bars;
- the paper's Figure 5: the opt score of every variant, one panel per weight set, bars grouped
  by model.
"""

from __future__ import annotations

import csv
import io
import math
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import atomic
from .figure_layout import drop_corner_ticks, place_point_labels, spans_decades
from .tables import change_column, quality_change_column

COMPONENT_COLOURS = {"CPU": "#4C72B0", "GPU": "#55A868", "RAM": "#C44E52"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 10, "axes.titlesize": 11, "figure.dpi": 120,
                         "svg.hashsalt": "llm-footprint"})  # stable SVG ids between runs
    return plt


def read_rows(path: str | Path | None) -> list[dict[str, str]]:
    if not path or not Path(path).is_file():
        return []
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _num(value: Any) -> float | None:
    if value in (None, ""):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def save(fig: Any, png: str | Path, svg: str | Path) -> None:
    """Write both formats atomically; an empty drawing is an error, not a file."""
    for path, fmt in ((png, "png"), (svg, "svg")):
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, bbox_inches="tight",
                    metadata={"Date": None} if fmt == "svg" else None)
        if buffer.tell() == 0:
            raise RuntimeError(f"matplotlib produced an empty {fmt} for {path}")
        with atomic.staged_file(path, "wb") as handle:
            handle.write(buffer.getvalue())


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
        grams = _num((summary.get((row["variant"], row["setup"])) or {}).get(
            f"{prefix}{row['country']}"))
        if grams is not None:
            rows.append({**row, "grams": grams})
    return rows


def carbon_bubbles(carbon_csv: str | Path, model: str, png: str | Path, svg: str | Path,
                   summary_csv: str | Path | None = None,
                   unit_of_work: str = "replay_window") -> None:
    plt = _pyplot()
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
    save(fig, png, svg)
    plt.close(fig)


def _intensity_label(rows: list[dict[str, str]], country: str) -> str:
    value = next(float(r["intensity_g_per_kwh"]) for r in rows if r["country"] == country)
    return f"{value:.4g}"


def is_estimated(row: dict[str, str], part: str) -> bool:
    """Whether CodeCarbon estimated (or was told) this component's power rather than read it;
    rows without the column (imported tables) count as unknown, not estimated."""
    source = row.get(f"{part}_power_source") or ""
    return source.startswith(("estimated", "constant"))


def estimate_note(rows: list[dict[str, str]]) -> str | None:
    """A line naming the components whose energy is an estimate in any row."""
    parts = [name for name, part in (("CPU", "cpu"), ("GPU", "gpu"), ("RAM", "ram"))
             if any(is_estimated(r, part) for r in rows)]
    if not parts:
        return None
    return (f"{', '.join(parts)} energy estimated by CodeCarbon (no power meter read): "
            f"hatched; differences between variants then follow their time and CPU load")


def energy_components(energy_csv: str | Path, png: str | Path, svg: str | Path) -> None:
    plt = _pyplot()
    rows = read_rows(energy_csv)
    labels = [f"{r['model']} / {r['variant']} @ {r['setup']}" for r in rows]
    fig, ax = plt.subplots(figsize=(9, 0.55 * max(3, len(rows)) + 1.8))
    left = [0.0] * len(rows)
    for name, part, column in (("CPU", "cpu", "cpu_energy_kwh"), ("GPU", "gpu", "gpu_energy_kwh"),
                               ("RAM", "ram", "ram_energy_corrected_kwh")):
        shares = []
        for row in rows:
            total = sum(_num(row[c]) or 0 for c in ("cpu_energy_kwh", "gpu_energy_kwh",
                                                    "ram_energy_corrected_kwh"))
            shares.append(100 * (_num(row[column]) or 0) / total if total else 0)
        bars = ax.barh(labels, shares, left=left, color=COMPONENT_COLOURS[name], label=name)
        for bar, share, row in zip(bars, shares, rows):
            if is_estimated(row, part):
                bar.set_hatch("//")
                bar.set_edgecolor("white")
            if share >= 6:
                ax.text(bar.get_x() + bar.get_width() / 2, bar.get_y() + bar.get_height() / 2,
                        f"{share:.0f}%", ha="center", va="center", color="white", fontsize=8)
        left = [a + b for a, b in zip(left, shares)]
    for index, row in enumerate(rows):
        total = float(row["hardware_energy_kwh"]) * 1000
        half = _num(row.get("hardware_energy_kwh_ci95_half_width"))
        text = f"{total:.3g} Wh" + (f" ± {half * 1000:.2g}" if half is not None else "")
        ax.text(101, index, text, va="center", fontsize=8)
    ax.set_xlim(0, 125)
    note = estimate_note(rows)
    ax.set_xlabel("share of hardware energy (%); total at the right (± 95 % interval, n >= 2)"
                  + ("\n" + "\n".join(textwrap.wrap(note, 90)) if note else ""))
    ax.invert_yaxis()
    # above the bars, beside the title's line, so that it covers no bar or value
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.01), ncol=3, fontsize=8, frameon=False)
    ax.set_title("Hardware energy by component (CPU + GPU + corrected RAM)", loc="right")
    save(fig, png, svg)
    plt.close(fig)


def pareto_front(points: Sequence[tuple[float, float]], higher_is_better: bool) -> list[int]:
    """Indices of points no other point beats on both energy (lower) and quality."""
    front = []
    for i, (energy, quality) in enumerate(points):
        dominated = any(
            (e <= energy and (q >= quality if higher_is_better else q <= quality))
            and (e < energy or q != quality)
            for j, (e, q) in enumerate(points) if j != i)
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: points[i][0])


def quality_vs_energy(energy_csv: str | Path, quality_csv: str | Path, task: str, metric: str,
                      energy_figure: str, png: str | Path, svg: str | Path) -> None:
    plt = _pyplot()
    quality = {(r["model"], r["variant"]): r for r in read_rows(quality_csv)
               if r["task"] == task and r["metric"] == metric}
    points, labels = [], []
    x_errors: list[float] = []
    y_errors: list[float] = []
    estimated_rows: list[dict[str, str]] = []
    higher_is_better = True
    for row in read_rows(energy_csv):
        match = quality.get((row["model"], row["variant"]))
        energy = _num(row.get(energy_figure))
        if match is None or energy is None:
            continue
        higher_is_better = match.get("higher_is_better", "True") != "False"
        points.append((energy, float(match["value"])))
        labels.append((row["model"], row["variant"], row["setup"]))
        # 95 % intervals: the energy's over the repeats, the metric's from its standard error
        x_errors.append(_num(row.get(f"{energy_figure}_ci95_half_width")) or 0.0)
        stderr = _num(match.get("stderr"))
        y_errors.append(1.96 * stderr if stderr else 0.0)
        estimated_rows.append(row)
    keys = labels
    labels = short_labels(keys)
    # what the short labels leave out, said once in the title
    shared = " @ ".join(dict.fromkeys(
        [*({k[0] for k in keys} if len({k[0] for k in keys}) == 1 else ()),
         *({k[2] for k in keys} if len({k[2] for k in keys}) == 1 else ())]))
    title = (f"{shared}: quality" if shared else "Quality") + \
        " against inference energy (bars: 95 % intervals)"
    fig, ax = plt.subplots(figsize=(8.5, 6))
    if not points:
        ax.text(0.5, 0.5, f"no tuple has both {energy_figure} and {task}/{metric}",
                ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    else:
        front = pareto_front(points, higher_is_better)
        ax.errorbar([p[0] for p in points], [p[1] for p in points], xerr=x_errors,
                    yerr=y_errors, fmt="o", color="#4C72B0", ecolor="#8DA0CB", capsize=3,
                    zorder=3)
        ax.plot([points[i][0] for i in front], [points[i][1] for i in front], "--",
                color="#C44E52", label="Pareto front", zorder=2)
        better = "higher is better" if higher_is_better else "lower is better"
        logs = []
        # one variant far off (a 2:4-pruned model's perplexity) must not flatten the others
        for axis, values in (("x", [p[0] for p in points]), ("y", [p[1] for p in points])):
            if spans_decades(values):
                (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
                logs.append(axis)
        note = (estimate_note(estimated_rows) or "").replace(": hatched", "")
        # wrapped to the axes' width, so that it reaches under no tick label
        ax.set_xlabel(_axis_label(energy_figure) + (", log scale" if "x" in logs else "")
                      + ("\n" + "\n".join(textwrap.wrap(note, 80)) if note else ""))
        ax.set_ylabel(f"{task} {metric} ({better})" + (", log scale" if "y" in logs else ""))
        _plain_ticks(ax, logs)
        ax.margins(x=0.25, y=0.2)
        ax.legend(fontsize=8, loc="best")
        ax.grid(alpha=0.3)
        ax.set_title(title)
        drop_corner_ticks(ax)
        place_point_labels(ax, points, labels)
    if not points:
        ax.set_title(title)
    save(fig, png, svg)
    plt.close(fig)


def short_labels(keys: Sequence[tuple[str, str, str]]) -> list[str]:
    """(model, variant, setup) as labels naming only what differs: the variant alone in a
    one-model, one-setup study; model and setup joined where the study has several."""
    several_models = len({k[0] for k in keys}) > 1
    several_setups = len({k[2] for k in keys}) > 1
    return [(f"{model}/" if several_models else "") + variant
            + (f"@{setup}" if several_setups else "") for model, variant, setup in keys]


def _plain_ticks(ax: Any, logs: Sequence[str] = ()) -> None:
    """Tick labels as plain numbers (no '1e-5' offset above the axis): the unit is in the
    label, the value at the tick."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    formatter = FuncFormatter(lambda value, _position: f"{value:.3g}")
    for axis, name in ((ax.xaxis, "x"), (ax.yaxis, "y")):
        axis.set_major_formatter(formatter)
        if name in logs:
            axis.set_minor_formatter(NullFormatter())


def _axis_label(figure: str) -> str:
    """'hardware_energy_kwh' -> 'hardware energy (kWh)'."""
    units = {"kwh": "kWh", "wh": "Wh", "j": "J", "s": "s"}
    name, _, unit = figure.rpartition("_")
    if unit in units:
        return f"{name.replace('_', ' ')} ({units[unit]})"
    return figure.replace("_", " ")


def relative_change(table_csv: str | Path, png: str | Path, svg: str | Path) -> None:
    plt = _pyplot()
    rows = read_rows(table_csv)
    columns = [c for c in (rows[0] if rows else {}) if c.endswith("_change_pct")]
    cells = [[f"{r['model']} / {r['variant']}\n@ {r['setup']} vs {r['baseline_variant']} "
              f"@ {r['baseline_setup']}",
              *[(f"{float(r[c]):+.1f} %" if r[c] not in ("", None) else "n/a") for c in columns]]
             for r in rows]
    headers = ["tuple"] + [c.removesuffix("_change_pct").replace("_", "\n", 1).replace("_", " ")
                           for c in columns]
    fig, ax = plt.subplots(figsize=(max(6, 1.5 * len(headers) + 2), 0.7 * max(2, len(cells)) + 1.2))
    ax.set_axis_off()
    if cells:
        table = ax.table(cellText=cells, colLabels=headers, loc="center", cellLoc="center")
        table.auto_set_font_size(False)
        table.set_fontsize(8)
        table.auto_set_column_width(col=list(range(len(headers))))
        table.scale(1, 2.6)
    else:
        ax.text(0.5, 0.5, "no compressed tuple with a measured baseline", ha="center",
                va="center", transform=ax.transAxes)
    ax.set_title("Relative change against the baseline ((variant - baseline) / baseline)")
    save(fig, png, svg)
    plt.close(fig)


def feasibility_matrix(feasibility_csv: str | Path, png: str | Path, svg: str | Path) -> None:
    plt = _pyplot()
    rows = read_rows(feasibility_csv)
    pairs = list(dict.fromkeys(f"{r['model']} / {r['variant']}" for r in rows))
    setups = list(dict.fromkeys(r["setup"] for r in rows))
    fig, ax = plt.subplots(figsize=(2.2 * max(2, len(setups)) + 3, 0.6 * max(2, len(pairs)) + 1.5))
    colours = {"True": "#8FD18F", "False": "#F08A8A", "": "#DDDDDD"}
    for row in rows:
        x = setups.index(row["setup"])
        y = pairs.index(f"{row['model']} / {row['variant']}")
        ax.add_patch(plt.Rectangle((x - 0.5, y - 0.5), 1, 1, facecolor=colours.get(row["fits"], "#DDDDDD"),
                                   edgecolor="white", linewidth=3))
        text = ("fits" if row["fits"] == "True" else "does not fit" if row["fits"] == "False"
                else "unknown")
        if row["estimate_gb"]:
            text += f"\n{float(row['estimate_gb']):.1f} / {float(row['device_memory_gb']):g} GB"
        if row.get("measured_peak_gb"):
            text += f"\nmeasured peak {float(row['measured_peak_gb']):.2f} GB"
        ax.text(x, y, text, ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(setups)), setups)
    ax.set_yticks(range(len(pairs)), pairs)
    ax.set_xlim(-0.5, len(setups) - 0.5)
    ax.set_ylim(len(pairs) - 0.5, -0.5)
    ax.set_title("Feasibility: estimated / available device memory, and the peak measured "
                 "by the energy stage")
    save(fig, png, svg)
    plt.close(fig)


PAPER_PANEL_COLOURS = ("#8172B2", "#4C72B0", "#DD8452")
NO_DATA_COLOUR = "#BBBBBB"


def _bar_label(row: dict[str, str], model: str, several_setups: bool) -> str:
    label = row["variant"] if row["model"] == model else f"{row['model']}\n({row['variant']})"
    return f"{label}\n@ {row['setup']}" if several_setups else label


def _annotate_bars(ax: Any, bars: Any, values: Sequence[float | None],
                   marks: Sequence[str] | None = None) -> None:
    for index, (bar, value) in enumerate(zip(bars, values)):
        text = "n/a" if value is None else f"{value:+.1f} %" + (marks[index] if marks else "")
        height = 0.0 if value is None else value
        ax.annotate(text, (bar.get_x() + bar.get_width() / 2, height),
                    textcoords="offset points", xytext=(0, 3 if height >= 0 else -3),
                    ha="center", va="bottom" if height >= 0 else "top", fontsize=8,
                    color="#555555" if value is None else "black")


def _pad_around_zero(ax: Any, values: Sequence[float | None]) -> None:
    """y limits that include 0 with room for the labels above and below the bars."""
    present = [v for v in values if v is not None]
    low, high = min([0.0, *present]), max([0.0, *present])
    span = (high - low) or 1.0
    ax.set_ylim(low - 0.15 * span, high + 0.15 * span)


# the summary's change column of the energy per unit of work, and the panel's title
ENERGY_PER_UNIT = {
    "output_tokens": ("replay_energy_per_output_token", "energy per output token (replay)"),
    "fixed_workload_run": ("fixed_workload_energy_per_run", "energy per fixed-workload run"),
}


def _energy_per_unit(rows: list[dict[str, str]], summary_csv: str | Path | None,
                     unit_of_work: str) -> tuple[str, str] | None:
    """Put the summary's change of energy per unit of work (and its significance) into each
    row; its (column, title), or None for the window figure of relative_change.csv."""
    if unit_of_work not in ENERGY_PER_UNIT or not summary_csv:
        return None
    stem, title = ENERGY_PER_UNIT[unit_of_work]
    summary = {(r["model"], r["variant"], r["setup"]): r for r in read_rows(summary_csv)}
    for row in rows:
        entry = summary.get((row["model"], row["variant"], row["setup"])) or {}
        row["energy_per_unit_change_pct"] = entry.get(f"{stem}_change_pct", "")
        row["energy_per_unit_significant"] = entry.get(f"{stem}_significant", "")
    return "energy_per_unit_change_pct", title


def paper_change(relative_change_csv: str | Path, model: str, quality_metric: dict[str, str],
                 time_figure: str, energy_figure: str, png: str | Path, svg: str | Path,
                 energy_note: str | None = None, summary_csv: str | Path | None = None,
                 unit_of_work: str = "replay_window") -> None:
    """The paper's Figures 2-4 for one model: the change (%) of quality, runtime and energy of
    each variant against its baseline, read from relative_change.csv. A distilled model whose
    teacher is ``model`` appears beside ``model``'s variants. Variants without an energy
    change (no baseline or no data) are marked with a dagger, and ``energy_note`` (e.g. power
    fixed in the tracker settings) marks every energy figure as an estimate."""
    plt = _pyplot()
    rows = [r for r in read_rows(relative_change_csv)
            if model in (r["model"], r.get("baseline_model"))]
    several_setups = len({r["setup"] for r in rows}) > 1
    panels = (
        (quality_change_column(quality_metric["task"], quality_metric["metric"]),
         f"{quality_metric['task']} {quality_metric['metric'].replace('_', ' ')}"),
        (change_column(time_figure), _axis_label(time_figure).split(" (")[0]),
        (change_column(energy_figure), _axis_label(energy_figure).split(" (")[0]),
    )
    per_unit = _energy_per_unit(rows, summary_csv, unit_of_work)
    if per_unit:
        panels = (*panels[:2], per_unit)
    missing_energy = {i for i, r in enumerate(rows) if _num(r.get(panels[2][0])) is None}
    labels = [_bar_label(r, model, several_setups) + (" †" if i in missing_energy else "")
              + (" *" if energy_note and i not in missing_energy else "")
              for i, r in enumerate(rows)]
    width = max(9.0, 1.1 * len(rows) * 3 + 2)
    fig, axes = plt.subplots(1, 3, figsize=(width, 4.8), sharey=False)
    if not rows:
        for ax in axes:
            ax.set_axis_off()
        axes[1].text(0.5, 0.5, f"no compressed tuple of {model} with a baseline",
                     ha="center", va="center", transform=axes[1].transAxes)
    else:
        for ax, (column, name), colour in zip(axes, panels, PAPER_PANEL_COLOURS):
            values = [_num(r.get(column)) for r in rows]
            bars = ax.bar(range(len(rows)), [v or 0.0 for v in values],
                          color=[colour if v is not None else NO_DATA_COLOUR for v in values])
            marks = ([" ‡" if r.get("energy_per_unit_significant") == "yes" else ""
                      for r in rows] if per_unit and column == per_unit[0] else None)
            _annotate_bars(ax, bars, values, marks)
            ax.axhline(0, color="black", linewidth=0.8)
            ax.set_xticks(range(len(rows)), labels, rotation=30, ha="right", fontsize=8)
            ax.set_ylabel("change vs baseline (%)")  # the panel's title names the figure
            ax.set_title(name)
            ax.grid(axis="y", alpha=0.3)
            _pad_around_zero(ax, values)
    notes = []
    if missing_energy:
        notes.append("† no energy change: baseline not measured on this setup, or no data")
    if energy_note:
        notes.append(f"* energy estimated: {energy_note}")
    if per_unit:
        notes.append("energy changes marked ‡ differ from the baseline's at 95 % (Welch's t on "
                     "the repeats)")
    baselines = sorted({f"{r['baseline_model']} / {r['baseline_variant']}" for r in rows})
    if baselines:
        notes.insert(0, f"baseline: {', '.join(baselines)}; (variant - baseline) / baseline")
    if notes:
        fig.text(0.01, -0.02, "\n".join(notes), ha="left", va="top", fontsize=8)
    fig.suptitle(f"{model}: change of quality, runtime and energy per technique")
    fig.tight_layout(rect=(0, 0, 1, 0.94))  # room for the title above the panels' ticks
    save(fig, png, svg)
    plt.close(fig)


def opt_weight_sets(rows: list[dict[str, str]]) -> list[str]:
    """Weight sets of a trade-off table, from its ``opt_<set>`` columns (not their intervals,
    ``opt_<set>_ci95_half_width``)."""
    return [c.removeprefix("opt_") for c in (rows[0] if rows else {})
            if c.startswith("opt_") and not c.endswith("_ci95_half_width")]


def _missing_score_reason(row: dict[str, str]) -> str:
    """Why a trade-off row has no opt: what it lacks, then the table's own note."""
    parts = {"pc_aggregate_pow1_5": "no quality factor Pc",
             "tc": f"no time ratio Tc ({row.get('time_figure') or 'time figure'})",
             "ec": f"no energy ratio Ec ({row.get('energy_figure') or 'energy figure'})"}
    lacking = [text for column, text in parts.items() if column in row and _num(row[column]) is None]
    if row.get("note"):
        lacking.append(row["note"])
    return "; ".join(lacking) or "no score"


def opt_scores(tradeoff_csv: str | Path, png: str | Path, svg: str | Path) -> None:
    """The paper's Figure 5: opt of every tuple (lower is better, the baseline 1), one panel
    per weight set, bars per variant grouped by model; an empty score is marked n/a and its
    reason (the table's note) given below."""
    plt = _pyplot()
    rows = read_rows(tradeoff_csv)
    sets = opt_weight_sets(rows)
    models = list(dict.fromkeys(r["model"] for r in rows))
    several_setups = len({r["setup"] for r in rows}) > 1
    keys = list(dict.fromkeys(f"{r['variant']} @ {r['setup']}" if several_setups else r["variant"]
                              for r in rows))
    by = {(r["model"], f"{r['variant']} @ {r['setup']}" if several_setups else r["variant"]): r
          for r in rows}
    colours = plt.get_cmap("tab10")
    width = 0.8 / max(1, len(keys))
    fig, axes = plt.subplots(max(1, len(sets)), 1, squeeze=False,
                             figsize=(max(7.0, 1.2 * len(models) * max(1, len(keys)) * 0.6 + 3),
                                      3.2 * max(1, len(sets)) + 0.8))
    axes = [a[0] for a in axes]
    notes = []
    if not sets or not rows:
        axes[0].set_axis_off()
        axes[0].text(0.5, 0.5, "no trade-off scores", ha="center", va="center",
                     transform=axes[0].transAxes)
    for ax, name in zip(axes, sets):
        for k, key in enumerate(keys):
            xs, heights, present = [], [], []
            for m, model in enumerate(models):
                row = by.get((model, key))
                if row is None:
                    continue
                value = _num(row.get(f"opt_{name}"))
                xs.append(m - 0.4 + width * (k + 0.5))
                heights.append(value)
                present.append(row)
            errors = [_num(row.get(f"opt_{name}_ci95_half_width")) or 0.0 for row in present]
            bars = ax.bar(xs, [h or 0.0 for h in heights], width=width * 0.95,
                          color=colours(k % 10), label=key if ax is axes[0] else None,
                          yerr=errors, capsize=2, error_kw={"elinewidth": 0.8})
            for bar, value, row in zip(bars, heights, present):
                if value is None:
                    ax.annotate("n/a", (bar.get_x() + bar.get_width() / 2, 0),
                                textcoords="offset points", xytext=(0, 3), ha="center",
                                fontsize=7, color="#555555")
                    note = f"{row['model']} / {key}: {_missing_score_reason(row)}"
                    if note not in notes:
                        notes.append(note)
                else:  # above the error bar
                    top = value + (_num(row.get(f"opt_{name}_ci95_half_width")) or 0.0)
                    ax.annotate(f"{value:.2f}", (bar.get_x() + bar.get_width() / 2, top),
                                textcoords="offset points", xytext=(0, 2), ha="center",
                                fontsize=7)
        ax.axhline(1.0, color="black", linestyle="--", linewidth=0.8)
        ax.set_xticks(range(len(models)), models)
        ax.set_ylabel(f"opt, {name} (ratio, lower is better)")
        ax.set_title(f"weight set {name}")
        ax.grid(axis="y", alpha=0.3)
        ax.margins(y=0.15)
    if sets and rows:
        axes[0].legend(fontsize=8, title="variant", loc="upper left", bbox_to_anchor=(1.01, 1))
    if notes:
        fig.text(0.01, -0.01, "n/a: " + "\n".join(notes), ha="left", va="top", fontsize=8)
    fig.suptitle("Trade-off score opt = Pc (alpha Tc + beta Ec) by weight set (baseline = 1; "
                 "bars: 95 % intervals)")
    fig.tight_layout(rect=(0, 0, 1, 0.97))  # the title above the first panel's, not on it
    save(fig, png, svg)
    plt.close(fig)
