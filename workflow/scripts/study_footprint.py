"""Rule study_footprint -> llm_footprint.study_footprint.study_footprint_table."""
from _job import call, start

start(snakemake)
from llm_footprint.study_footprint import study_footprint_table

call(study_footprint_table, snakemake, records=snakemake.input.footprints,
     replays=snakemake.input.replays, scenarios=snakemake.input.scenarios,
     carbon=snakemake.params.carbon, gpus_of=snakemake.params.gpus_per_setup,
     out_csv=snakemake.output.table)
