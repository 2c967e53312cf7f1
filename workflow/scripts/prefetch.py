"""Rule prefetch -> llm_footprint.prefetch.fetch."""
from _job import start

start(snakemake)
from llm_footprint.prefetch import fetch

fetch(snakemake.params.plan, snakemake.output.record)
