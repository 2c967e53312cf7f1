"""Quality against inference energy, with the Pareto front and 95 % intervals on both axes."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..cells import finite_number
from ..figure_layout import drop_corner_ticks, place_point_labels, spans_decades
from . import common  # common.save: looked up at each call (the layout test wraps it)
from .common import axis_label, estimate_note, pyplot, read_rows

# The quality axis turns logarithmic once its values span 4x: the demo's SparseGPT 2:4 at 6x
# the full model's perplexity left the other five variants (19-26, up to 40 % apart) in a
# sliver of a linear axis. Perplexity is a ratio scale (exp of the mean loss); on a log axis
# equal distances are equal ratios.
QUALITY_LOG_RATIO = 4.0


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
    plt = pyplot()
    quality = {(r["model"], r["variant"]): r for r in read_rows(quality_csv)
               if r["task"] == task and r["metric"] == metric}
    points, labels = [], []
    x_errors: list[float] = []
    y_errors: list[float] = []
    estimated_rows: list[dict[str, str]] = []
    higher_is_better = True
    for row in read_rows(energy_csv):
        match = quality.get((row["model"], row["variant"]))
        energy = finite_number(row.get(energy_figure))
        if match is None or energy is None:
            continue
        higher_is_better = match.get("higher_is_better", "True") != "False"
        points.append((energy, float(match["value"])))
        labels.append((row["model"], row["variant"], row["setup"]))
        # 95 % intervals: the energy's over the repeats, the metric's from its standard error
        x_errors.append(finite_number(row.get(f"{energy_figure}_ci95_half_width")) or 0.0)
        stderr = finite_number(match.get("stderr"))
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
            if spans_decades(values, ratio=QUALITY_LOG_RATIO if axis == "y" else 10.0):
                (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
                logs.append(axis)
        note = (estimate_note(estimated_rows) or "").replace(": hatched", "")
        # wrapped to the axes' width, so that it reaches under no tick label
        ax.set_xlabel(axis_label(energy_figure) + (", log scale" if "x" in logs else "")
                      + ("\n" + "\n".join(textwrap.wrap(note, 80)) if note else ""))
        ax.set_ylabel(f"{task} {metric} ({better})" + (", log scale" if "y" in logs else ""))
        _plain_ticks(ax, logs)
        ax.margins(x=0.25, y=0.2)
        ax.legend(fontsize=8, loc="best")
        ax.grid(alpha=0.3)
        ax.set_title(title)
        drop_corner_ticks(ax)
        bars = [segment for (x, y), dx, dy in zip(points, x_errors, y_errors)
                for segment in (((x - dx, y), (x + dx, y)), ((x, y - dy), (x, y + dy)))]
        place_point_labels(ax, points, labels, bars=bars)
    if not points:
        ax.set_title(title)
    common.save(fig, png, svg)
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
    label, the value at the tick, with as many digits as the ticks need (1.425 stays 1.425:
    three significant digits made it 1.43, between ticks 1.45 and 1.48)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, ScalarFormatter

    for axis, name in ((ax.xaxis, "x"), (ax.yaxis, "y")):
        if name in logs:
            # 1-2-5 steps: a log axis over one or two decades would show one labelled tick
            axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            axis.set_minor_formatter(NullFormatter())
            axis.set_major_formatter(FuncFormatter(lambda value, _position: f"{value:g}"))
        else:
            plain = ScalarFormatter(useOffset=False)
            plain.set_scientific(False)
            axis.set_major_formatter(plain)
