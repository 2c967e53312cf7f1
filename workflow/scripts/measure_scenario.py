"""Rule measure_scenario -> llm_footprint.energy.scenarios.measure_scenario."""
from _job import start

start(snakemake, offline=True)
from llm_footprint.energy.scenarios import measure_scenario

measure_scenario(
    snakemake.wildcards.scenario, snakemake.wildcards.model, snakemake.wildcards.variant,
    snakemake.wildcards.setup, checkpoint_dir=snakemake.input.checkpoint,
    schedule_json=snakemake.input.schedule, energy=snakemake.params.settings["energy"],
    quality=snakemake.params.settings["quality"], setup=snakemake.params.setup,
    out_dir=snakemake.output.measurement, threads=snakemake.threads,
    study_name=snakemake.params.study)
