"""Rule import_quality -> llm_footprint.imports.import_quality."""
from _job import start

start(snakemake)
from llm_footprint.imports import import_quality

import_quality(snakemake.input.measurements, snakemake.params.baseline_variant,
               snakemake.output.table)
