"""Rule compression_table -> llm_footprint.tables.compression_table."""
from _job import call, start

start(snakemake)
from llm_footprint.tables import compression_table

call(compression_table, snakemake, checkpoint_dirs=snakemake.input.checkpoints,
     out_csv=snakemake.output.table)
