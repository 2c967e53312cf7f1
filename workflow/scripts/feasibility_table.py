"""Rule feasibility -> llm_footprint.feasibility.study_estimates and write_table, with the
peak memory measured by the energy stage when it has run."""
from _job import call, start

start(snakemake)
from llm_footprint.feasibility import study_estimates, write_table

call(write_table, snakemake, estimates=study_estimates(snakemake.params.study),
     out_csv=snakemake.output.table, energy_csv=snakemake.input.get("energy"))
