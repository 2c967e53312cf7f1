"""Rule feasibility -> llm_footprint.feasibility.write_table."""
from _job import start

start(snakemake)
from llm_footprint.feasibility import Estimate, write_table

write_table([Estimate(**e) for e in snakemake.params.estimates], snakemake.output.table)
