"""Rule prompt_schedule -> llm_footprint.energy.schedule.write_schedule."""
from _job import start

start(snakemake)
from llm_footprint.energy.schedule import write_schedule

write_schedule(snakemake.params.energy, snakemake.output.schedule)
