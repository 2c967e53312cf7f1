"""Rule import_energy -> llm_footprint.imports.import_energy."""
from _job import call, start

start(snakemake)
from llm_footprint.imports import import_energy

call(import_energy, snakemake, path=snakemake.input.measurements, out_csv=snakemake.output.table)
