"""Rule relative_change -> llm_footprint.tables.relative_change_table."""
from _job import call, start

start(snakemake)
from llm_footprint.tables import read_csv_rows, relative_change_table
from llm_footprint.tradeoff import resolve_metrics

tradeoff = snakemake.params.tradeoff
quality_csv = snakemake.input.quality[0] if snakemake.input.quality else None
# the trade-off's metrics first; the table adds every other metric of the quality table
metrics = resolve_metrics(tradeoff=tradeoff,
                          quality=read_csv_rows(quality_csv) if quality_csv else [])
call(relative_change_table, snakemake, energy_csv=snakemake.input.energy, quality_csv=quality_csv,
     metrics=metrics, baseline_variant=snakemake.params.baseline_variant,
     teachers=snakemake.params.teachers, baseline_setup=tradeoff["baseline_setup"],
     out_csv=snakemake.output.table, figures=[tradeoff["time_figure"], tradeoff["energy_figure"]])
