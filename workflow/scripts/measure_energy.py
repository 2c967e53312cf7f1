"""Rule measure_energy -> llm_footprint.energy.measure.measure_energy."""
from _job import start

start(snakemake, offline=True)
from llm_footprint.energy.measure import measure_energy

measure_energy(
    snakemake.wildcards.model, snakemake.wildcards.variant, snakemake.wildcards.setup,
    snakemake.input.checkpoint, snakemake.input.schedule, snakemake.params.energy,
    snakemake.params.setup, snakemake.output.measurement, threads=snakemake.threads,
    study_name=snakemake.params.study)
