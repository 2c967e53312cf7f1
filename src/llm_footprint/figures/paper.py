"""The companion paper's figures: per model, the change of quality, runtime and energy of
each variant against its baseline as grouped bars (Figures 2-4), and the opt score of every
variant, one panel per weight set (Figure 5)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..cells import finite_number
from ..tables import change_column, quality_change_column
from . import common  # common.save: looked up at each call (the layout test wraps it)
from .common import axis_label, pyplot, read_rows

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
    plt = pyplot()
    rows = [r for r in read_rows(relative_change_csv)
            if model in (r["model"], r.get("baseline_model"))]
    several_setups = len({r["setup"] for r in rows}) > 1
    panels = (
        (quality_change_column(quality_metric["task"], quality_metric["metric"]),
         f"{quality_metric['task']} {quality_metric['metric'].replace('_', ' ')}"),
        (change_column(time_figure), axis_label(time_figure).split(" (")[0]),
        (change_column(energy_figure), axis_label(energy_figure).split(" (")[0]),
    )
    per_unit = _energy_per_unit(rows, summary_csv, unit_of_work)
    if per_unit:
        panels = (*panels[:2], per_unit)
    missing_energy = {i for i, r in enumerate(rows) if finite_number(r.get(panels[2][0])) is None}
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
            values = [finite_number(r.get(column)) for r in rows]
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
    common.save(fig, png, svg)
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
    lacking = [text for column, text in parts.items() if column in row and finite_number(row[column]) is None]
    if row.get("note"):
        lacking.append(row["note"])
    return "; ".join(lacking) or "no score"


def opt_scores(tradeoff_csv: str | Path, png: str | Path, svg: str | Path) -> None:
    """The paper's Figure 5: opt of every tuple (lower is better, the baseline 1), one panel
    per weight set, bars per variant grouped by model; an empty score is marked n/a and its
    reason (the table's note) given below."""
    plt = pyplot()
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
                value = finite_number(row.get(f"opt_{name}"))
                xs.append(m - 0.4 + width * (k + 0.5))
                heights.append(value)
                present.append(row)
            errors = [finite_number(row.get(f"opt_{name}_ci95_half_width")) or 0.0 for row in present]
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
                    top = value + (finite_number(row.get(f"opt_{name}_ci95_half_width")) or 0.0)
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
    common.save(fig, png, svg)
    plt.close(fig)
