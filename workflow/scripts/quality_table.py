"""Rule quality_table -> llm_footprint.tables.quality_table."""
from _job import call, start

start(snakemake)
from llm_footprint.tables import quality_table

call(quality_table, snakemake, quality_files=snakemake.input.quality,
     baseline_variant=snakemake.params.baseline_variant, out_csv=snakemake.output.table,
     teachers=snakemake.params.teachers)
