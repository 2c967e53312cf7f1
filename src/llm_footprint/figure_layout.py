"""Text that does not collide: where labels go, and a check that no two texts of a figure overlap.

Both work on the extents matplotlib's renderer gives each text once drawn (display pixels), so
what is checked is what the PNG shows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

# offsets (points) tried in turn for a point's label: right-up first, then around the point,
# then further out on eight directions (drawn with a leader line beyond the four corners)
NEAR_OFFSETS = ((5, 5), (5, -11), (-5, 5), (-5, -11), (5, 16), (5, -22), (-5, 16), (-5, -22),
                (12, 0), (-12, 0))
# the four offsets whose label touches the point's corner: no leader line needed
CORNER_OFFSETS = NEAR_OFFSETS[:4]
FAR_OFFSETS = tuple((round(r * math.cos(a * math.pi / 4)), round(r * math.sin(a * math.pi / 4)))
                    for r in (30, 45, 60, 80) for a in (1, 7, 3, 5, 0, 4, 2, 6))


def renderer_of(fig: Any) -> Any:
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def _undrawn_tick_labels(fig: Any) -> set[int]:
    """Tick labels whose tick lies outside its axis' view: matplotlib keeps them (visible, with
    a position) but does not draw them, so they cannot collide with anything in the picture."""
    undrawn = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            slack = (high - low) * 1e-9
            for tick in (*axis.get_major_ticks(), *axis.get_minor_ticks()):
                if not low - slack <= tick.get_loc() <= high + slack:
                    undrawn.update((id(tick.label1), id(tick.label2)))
    return undrawn


def visible_texts(fig: Any) -> list[Any]:
    """Every drawn text of the figure with something in it (tick labels, titles, labels,
    annotations, legend entries)."""
    from matplotlib.text import Text

    undrawn = _undrawn_tick_labels(fig)
    texts = []
    for artist in fig.findobj(Text):
        if not artist.get_visible() or not artist.get_text().strip() or id(artist) in undrawn:
            continue
        axes = artist.axes
        if axes is not None and not axes.get_visible():
            continue
        texts.append(artist)
    return texts


def _extent(artist: Any, renderer: Any) -> Any | None:
    """The box of the text itself: an annotation's own extent also spans its leader line."""
    from matplotlib.text import Annotation, Text

    if isinstance(artist, Annotation):
        artist.update_positions(renderer)  # where its offset puts the text, as drawing does
    box = Text.get_window_extent(artist, renderer)
    if box.width <= 0 or box.height <= 0 or not all(map(math.isfinite, box.bounds)):
        return None
    return box


def overlapping_texts(fig: Any, tolerance_px: float = 0.5) -> list[tuple[str, str]]:
    """Pairs of texts whose drawn boxes intersect by more than ``tolerance_px`` each way."""
    renderer = renderer_of(fig)
    boxes = [(t, b) for t in visible_texts(fig) if (b := _extent(t, renderer)) is not None]
    pairs = []
    for i, (first, a) in enumerate(boxes):
        for second, b in boxes[i + 1:]:
            width = min(a.x1, b.x1) - max(a.x0, b.x0)
            height = min(a.y1, b.y1) - max(a.y0, b.y0)
            if width > tolerance_px and height > tolerance_px:
                pairs.append((first.get_text(), second.get_text()))
    return pairs


def _collides(box: Any, others: Iterable[Any]) -> bool:
    return any(box.overlaps(other) for other in others)


def place_point_labels(ax: Any, points: Sequence[tuple[float, float]], labels: Sequence[str],
                       fontsize: float = 8,
                       bars: Sequence[tuple[tuple[float, float], tuple[float, float]]] = ()
                       ) -> list[Any]:
    """Annotate each point with its label at the first offset that collides with no label
    placed before it, no marker, no error bar (``bars``: segments in data coordinates) and no
    tick label. A label that does not touch its point's corner gets a leader line to it: next
    to another point's marker or bar, a bare label reads as that point's."""
    fig = ax.figure
    renderer = renderer_of(fig)
    taken = [b for t in visible_texts(fig) if (b := _extent(t, renderer)) is not None]
    from matplotlib.transforms import Bbox

    marker_px, bar_px = 4, 1.5
    for x, y in points:
        px, py = ax.transData.transform((x, y))
        taken.append(Bbox([[px - marker_px, py - marker_px], [px + marker_px, py + marker_px]]))
    for start, end in bars:
        (x0, y0), (x1, y1) = ax.transData.transform(start), ax.transData.transform(end)
        taken.append(Bbox([[min(x0, x1) - bar_px, min(y0, y1) - bar_px],
                           [max(x0, x1) + bar_px, max(y0, y1) + bar_px]]))
    placed = []
    for (x, y), label in zip(points, labels):

        def annotate(dx: float, dy: float, leader: bool) -> Any:
            return ax.annotate(
                label, (x, y), textcoords="offset points", xytext=(dx, dy), fontsize=fontsize,
                ha="left" if dx >= 0 else "right", va="bottom" if dy >= 0 else "top",
                arrowprops={"arrowstyle": "-", "color": "#999999", "lw": 0.6} if leader else None)

        chosen = None
        for dx, dy in (*NEAR_OFFSETS, *FAR_OFFSETS):
            # measured without the leader line, which ends at the point's own marker
            annotation = annotate(dx, dy, leader=False)
            box = _extent(annotation, renderer)
            inside = ax.bbox.contains(box.x0, box.y0) and ax.bbox.contains(box.x1, box.y1)
            annotation.remove()
            if box is not None and inside and not _collides(box, taken):
                chosen = annotate(dx, dy, leader=(dx, dy) not in CORNER_OFFSETS)
                taken.append(box)
                break
        if chosen is None:  # nowhere free inside the axes: the first offset
            chosen = annotate(*NEAR_OFFSETS[0], leader=False)
        placed.append(chosen)
    return placed


def spans_decades(values: Iterable[float | None], ratio: float = 10.0) -> bool:
    """Whether positive values span more than ``ratio`` (a log axis then shows them all)."""
    present = [v for v in values if v is not None and v > 0]
    return len(present) >= 2 and max(present) / min(present) > ratio


def drop_corner_ticks(ax: Any) -> None:
    """Hide an x tick label that collides with a y tick label (they meet at the axes' lower
    left corner when both axes start with a tick there)."""
    renderer = renderer_of(ax.figure)
    y_boxes = [b for t in ax.get_yticklabels() if t.get_visible() and t.get_text()
               and (b := _extent(t, renderer)) is not None]
    for label in ax.get_xticklabels():
        box = _extent(label, renderer) if label.get_visible() and label.get_text() else None
        if box is not None and _collides(box, y_boxes):
            label.set_visible(False)
