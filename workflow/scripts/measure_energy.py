"""Rule measure_energy -> llm_footprint.energy.measure.measure_energy."""
from _job import call, start

start(snakemake, offline=True)
from llm_footprint.energy.measure import measure_energy

call(measure_energy, snakemake, checkpoint_dir=snakemake.input.checkpoint,
     schedule_json=snakemake.input.schedule, energy=snakemake.params.energy,
     setup=snakemake.params.setup, out_dir=snakemake.output.measurement,
     study_name=snakemake.params.study)
