"""Rule scenario_table -> llm_footprint.tables.scenario_table."""
from _job import start

start(snakemake)
from llm_footprint.tables import scenario_table

scenario_table(snakemake.wildcards.scenario, snakemake.input.measurements,
               snakemake.output.table)
