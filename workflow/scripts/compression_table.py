"""Rule compression_table -> llm_footprint.tables.compression_table."""
from _job import start

start(snakemake)
from llm_footprint.tables import compression_table

compression_table(snakemake.input.checkpoints, snakemake.output.table)
