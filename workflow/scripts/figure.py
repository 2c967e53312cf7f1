"""Rules figure_* -> llm_footprint.figures (one function per figure)."""
from _job import call, start

start(snakemake)
from llm_footprint import figures

tables, out, params = snakemake.input, snakemake.output, snakemake.params
kind = params.figure
if kind == "carbon_bubbles":
    call(figures.carbon_bubbles, snakemake, carbon_csv=tables.table,
         model=snakemake.wildcards.model, png=out.png, svg=out.svg, summary_csv=tables.summary,
         unit_of_work=params.unit_of_work)
elif kind == "energy_components":
    call(figures.energy_components, snakemake, energy_csv=tables.table, png=out.png, svg=out.svg)
elif kind == "quality_vs_energy":
    metric = params.quality_metric
    call(figures.quality_vs_energy, snakemake, energy_csv=tables.table,
         quality_csv=tables.quality[0], task=metric["task"], metric=metric["metric"],
         energy_figure=params.energy_figure, png=out.png, svg=out.svg)
elif kind == "relative_change":
    call(figures.relative_change, snakemake, table_csv=tables.table, png=out.png, svg=out.svg)
elif kind == "paper_change":
    call(figures.paper_change, snakemake, relative_change_csv=tables.table,
         model=snakemake.wildcards.model, quality_metric=params.quality_metric,
         time_figure=params.time_figure, energy_figure=params.energy_figure, png=out.png,
         svg=out.svg, energy_note=params.energy_note, summary_csv=tables.summary,
         unit_of_work=params.unit_of_work)
elif kind == "opt_scores":
    call(figures.opt_scores, snakemake, tradeoff_csv=tables.table, png=out.png, svg=out.svg)
elif kind == "feasibility":
    call(figures.feasibility_matrix, snakemake, feasibility_csv=tables.table, png=out.png,
         svg=out.svg)
else:
    raise ValueError(f"unknown figure {kind!r}")
