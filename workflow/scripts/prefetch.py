"""Rule prefetch -> llm_footprint.prefetch.fetch."""
from _job import call, start

start(snakemake)
from llm_footprint.prefetch import fetch

call(fetch, snakemake, plan_=snakemake.params.plan, out_json=snakemake.output.record)
