"""Rule import_quality -> llm_footprint.imports.import_quality."""
from _job import call, start

start(snakemake)
from llm_footprint.imports import import_quality

call(import_quality, snakemake, path=snakemake.input.measurements,
     baseline_variant=snakemake.params.baseline_variant, out_csv=snakemake.output.table)
