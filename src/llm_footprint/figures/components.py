"""Energy components: the CPU / GPU / RAM shares of each tuple's hardware energy, estimated
components hatched, the total and its interval at the right."""

from __future__ import annotations

import textwrap
from pathlib import Path

from ..cells import finite_number
from . import common  # common.save: looked up at each call (the layout test wraps it)
from .common import estimate_note, is_estimated, pyplot, read_rows

COMPONENT_COLOURS = {"CPU": "#4C72B0", "GPU": "#55A868", "RAM": "#C44E52"}


def energy_components(energy_csv: str | Path, png: str | Path, svg: str | Path) -> None:
    plt = pyplot()
    rows = read_rows(energy_csv)
    labels = [f"{r['model']} / {r['variant']} @ {r['setup']}" for r in rows]
    fig, ax = plt.subplots(figsize=(9, 0.55 * max(3, len(rows)) + 1.8))
    left = [0.0] * len(rows)
    for name, part, column in (("CPU", "cpu", "cpu_energy_kwh"), ("GPU", "gpu", "gpu_energy_kwh"),
                               ("RAM", "ram", "ram_energy_corrected_kwh")):
        shares = []
        for row in rows:
            total = sum(finite_number(row[c]) or 0 for c in ("cpu_energy_kwh", "gpu_energy_kwh",
                                                    "ram_energy_corrected_kwh"))
            shares.append(100 * (finite_number(row[column]) or 0) / total if total else 0)
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
        half = finite_number(row.get("hardware_energy_kwh_ci95_half_width"))
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
    common.save(fig, png, svg)
    plt.close(fig)
