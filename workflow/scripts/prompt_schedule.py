"""Rule prompt_schedule -> llm_footprint.energy.schedule.write_schedule."""
from _job import call, start

start(snakemake)
from llm_footprint.energy.schedule import write_schedule

call(write_schedule, snakemake, energy=snakemake.params.energy, out_json=snakemake.output.schedule)
