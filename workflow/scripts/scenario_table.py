"""Rule scenario_table -> llm_footprint.tables.scenario_table."""
from _job import call, start

start(snakemake)
from llm_footprint.tables import scenario_table

call(scenario_table, snakemake, scenario=snakemake.wildcards.scenario,
     summary_dirs=snakemake.input.measurements, out_csv=snakemake.output.table)
