"""Rule feasibility -> llm_footprint.feasibility.study_estimates and write_table, with the
peak memory measured by the energy stage when it has run."""
from _job import start

start(snakemake)
from llm_footprint.feasibility import study_estimates, write_table

write_table(study_estimates(snakemake.params.study), snakemake.output.table,
            snakemake.input.get("energy"))
