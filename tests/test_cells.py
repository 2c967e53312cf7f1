"""The one reading of a table cell as a number, and the one relative change, that the tables,
the summary, the recommendation and the figures share."""

from __future__ import annotations

import math

from llm_footprint.cells import change_pct, finite_number, number


def test_a_cell_is_a_number_or_none():
    assert number("1.5") == 1.5 and number(2) == 2.0 and number("0") == 0.0
    assert [number(v) for v in (None, "", "n/a", "nan", float("nan"))] == [None] * 5
    assert number("inf") == math.inf  # a number, but not one to draw
    assert finite_number("inf") is None and finite_number("-inf") is None
    assert finite_number("3") == 3.0 and finite_number("") is None


def test_relative_change_against_the_reference():
    assert change_pct(110, 100) == 10.0 and change_pct("90", "100") == -10.0
    assert change_pct(-2, -1) == -100.0  # against the reference's size: more negative is less
    assert change_pct(1, 0) is None and change_pct("", 1) is None and change_pct(1, None) is None
