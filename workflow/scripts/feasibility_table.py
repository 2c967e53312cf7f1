"""Rule feasibility -> llm_footprint.feasibility.study_estimates and write_table."""
from _job import start

start(snakemake)
from llm_footprint.feasibility import study_estimates, write_table

write_table(study_estimates(snakemake.params.study), snakemake.output.table)
