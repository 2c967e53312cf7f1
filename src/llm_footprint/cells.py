"""Numbers in the result tables' cells: a CSV cell (or a value read from JSON) as a float or
None, and the relative change of one against another."""

from __future__ import annotations

import math
from typing import Any


def number(value: Any) -> float | None:
    """The cell as a float; None when it is empty, not a number, or NaN."""
    if value in (None, ""):
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if result == result else None  # NaN is no number


def finite_number(value: Any) -> float | None:
    """The cell as a float that can be drawn: None also for an infinite one."""
    result = number(value)
    return result if result is None or math.isfinite(result) else None


def change_pct(value: Any, reference: Any) -> float | None:
    """(value - reference) / |reference| in percent; None when either is no number or the
    reference is 0."""
    value, reference = number(value), number(reference)
    if value is None or reference is None or reference == 0:
        return None
    return (value - reference) / abs(reference) * 100
