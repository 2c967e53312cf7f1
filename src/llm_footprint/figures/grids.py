"""Tables drawn as figures: the relative change against the baseline, and the feasibility
matrix (which (model, variant) fits which setup, with the memory estimate)."""

from __future__ import annotations

from pathlib import Path

from . import common  # common.save: looked up at each call (the layout test wraps it)
from .common import pyplot, read_rows


def relative_change(table_csv: str | Path, png: str | Path, svg: str | Path) -> None:
    plt = pyplot()
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
    common.save(fig, png, svg)
    plt.close(fig)


def feasibility_matrix(feasibility_csv: str | Path, png: str | Path, svg: str | Path) -> None:
    plt = pyplot()
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
    common.save(fig, png, svg)
    plt.close(fig)
