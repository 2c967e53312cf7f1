"""Rules figure_* -> llm_footprint.figures (one function per figure)."""
from _job import start

start(snakemake)
from llm_footprint import figures

out = snakemake.output
kind = snakemake.params.figure
if kind == "carbon_bubbles":
    figures.carbon_bubbles(snakemake.input.table, snakemake.wildcards.model, out.png, out.svg,
                           summary_csv=snakemake.input.summary,
                           unit_of_work=snakemake.params.unit_of_work)
elif kind == "energy_components":
    figures.energy_components(snakemake.input.table, out.png, out.svg)
elif kind == "quality_vs_energy":
    metric = snakemake.params.quality_metric
    figures.quality_vs_energy(snakemake.input.table, snakemake.input.quality[0], metric["task"],
                              metric["metric"], snakemake.params.energy_figure, out.png, out.svg)
elif kind == "relative_change":
    figures.relative_change(snakemake.input.table, out.png, out.svg)
elif kind == "paper_change":
    params = snakemake.params
    figures.paper_change(snakemake.input.table, snakemake.wildcards.model, params.quality_metric,
                         params.time_figure, params.energy_figure, out.png, out.svg,
                         energy_note=params.energy_note, summary_csv=snakemake.input.summary,
                         unit_of_work=params.unit_of_work)
elif kind == "opt_scores":
    figures.opt_scores(snakemake.input.table, out.png, out.svg)
elif kind == "feasibility":
    figures.feasibility_matrix(snakemake.input.table, out.png, out.svg)
else:
    raise ValueError(f"unknown figure {kind!r}")
