"""The study's figures (matplotlib, PNG and SVG), drawn from the result tables; one module
per kind of figure, one function per figure (workflow/scripts/figure.py calls them):

- ``bubbles``: carbon bubbles, one chart per model, countries x configurations, bubble area
  proportional to operational gCO2e, values written on the bubbles (the thesis's Figure 42);
- ``components``: CPU / GPU / RAM shares of hardware energy per tuple (Figures 40-41);
- ``quality``: quality vs energy with the Pareto front;
- ``grids``: relative change against the baseline as a table (Tables 27-28), and the
  feasibility matrix: which (model, variant) fits which setup, with the memory estimate;
- ``paper``: the companion paper's Figures 2-4 (per model, the change of perplexity, or the
  report's quality metric, runtime and energy of each variant against its baseline, as grouped
  bars) and Figure 5 (the opt score of every variant, one panel per weight set, bars grouped
  by model);
- ``common``: what they share (pyplot set up for files, ``read_rows``, ``save``, labels).
"""

from __future__ import annotations

from .bubbles import UNITS_OF_WORK, bubble_rows, carbon_bubbles, configuration, format_grams
from .common import axis_label, estimate_note, is_estimated, pyplot, read_rows, save
from .components import COMPONENT_COLOURS, energy_components
from .grids import feasibility_matrix, relative_change
from .paper import ENERGY_PER_UNIT, opt_scores, opt_weight_sets, paper_change
from .quality import pareto_front, quality_vs_energy, short_labels

__all__ = ["COMPONENT_COLOURS", "ENERGY_PER_UNIT", "UNITS_OF_WORK", "axis_label", "bubble_rows",
           "carbon_bubbles", "configuration", "energy_components", "estimate_note",
           "feasibility_matrix", "format_grams", "is_estimated", "opt_scores", "opt_weight_sets",
           "paper_change", "pareto_front", "pyplot", "quality_vs_energy", "read_rows",
           "relative_change", "save", "short_labels"]
