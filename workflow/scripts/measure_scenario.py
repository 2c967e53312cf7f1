"""Rule measure_scenario -> llm_footprint.energy.scenarios.measure_scenario."""
from _job import call, start

start(snakemake, offline=True)
from llm_footprint.energy.scenarios import measure_scenario

call(measure_scenario, snakemake, scenario=snakemake.wildcards.scenario,
     checkpoint_dir=snakemake.input.checkpoint, schedule_json=snakemake.input.schedule,
     energy=snakemake.params.settings["energy"], quality=snakemake.params.settings["quality"],
     setup=snakemake.params.setup, out_dir=snakemake.output.measurement,
     study_name=snakemake.params.study)
