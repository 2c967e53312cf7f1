"""Rule quality_table -> llm_footprint.tables.quality_table."""
from _job import start

start(snakemake)
from llm_footprint.tables import quality_table

quality_table(snakemake.input.quality, snakemake.params.baseline_variant, snakemake.output.table,
              snakemake.params.teachers)
