"""Rule tradeoff -> llm_footprint.tradeoff.tradeoff_table."""
from _job import start

start(snakemake)
from llm_footprint.tradeoff import tradeoff_table

tradeoff_table(snakemake.input.energy, snakemake.input.quality[0] if snakemake.input.quality else None,
               snakemake.params.tradeoff, snakemake.params.baseline_variant,
               snakemake.params.teachers, snakemake.output.table)
