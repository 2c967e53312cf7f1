"""Rule carbon -> llm_footprint.carbon.carbon_table."""
from _job import call, start

start(snakemake)
from llm_footprint.carbon import carbon_table

call(carbon_table, snakemake, energy_csv=snakemake.input.energy, carbon=snakemake.params.carbon,
     setups=snakemake.params.setups, out_csv=snakemake.output.table)
