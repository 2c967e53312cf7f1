"""Rule import_energy -> llm_footprint.imports.import_energy."""
from _job import start

start(snakemake)
from llm_footprint.imports import import_energy

import_energy(snakemake.input.measurements, snakemake.output.table)
