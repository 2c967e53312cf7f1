"""What every figure shares: matplotlib set up for files, the tables read as rows, both
formats written atomically, axis labels from figure names, and the note on estimated energy."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from .. import atomic


def pyplot() -> Any:
    """matplotlib's pyplot, drawing to files (Agg), in the figures' style."""
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


def axis_label(figure: str) -> str:
    """'hardware_energy_kwh' -> 'hardware energy (kWh)'."""
    units = {"kwh": "kWh", "wh": "Wh", "j": "J", "s": "s"}
    name, _, unit = figure.rpartition("_")
    if unit in units:
        return f"{name.replace('_', ' ')} ({units[unit]})"
    return figure.replace("_", " ")


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
