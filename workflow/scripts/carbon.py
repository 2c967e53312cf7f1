"""Rule carbon -> llm_footprint.carbon.carbon_table."""
from _job import start

start(snakemake)
from llm_footprint.carbon import carbon_table

carbon_table(snakemake.input.energy, snakemake.params.carbon, snakemake.params.setups,
             snakemake.output.table)
