"""Rule study_footprint -> llm_footprint.study_footprint.study_footprint_table."""
from _job import start

start(snakemake)
from llm_footprint.study_footprint import study_footprint_table

study_footprint_table(snakemake.input.footprints, snakemake.input.replays,
                      snakemake.input.scenarios, snakemake.params.carbon,
                      snakemake.params.gpus_per_setup, snakemake.output.table)
