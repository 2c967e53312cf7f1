"""Rule measure_energy -> llm_footprint.energy.tuple_job.measure_tuple."""
from _job import call, start

start(snakemake, offline=True)
from llm_footprint.energy.tuple_job import measure_tuple

call(measure_tuple, snakemake, checkpoint_dir=snakemake.input.checkpoint,
     schedule_json=snakemake.input.schedule, energy=snakemake.params.settings["energy"],
     quality=snakemake.params.settings["quality"], setup=snakemake.params.setup,
     out_dir=snakemake.output.measurement,
     scenario_dirs={name: snakemake.output[name] for name in snakemake.params.scenarios},
     study_name=snakemake.params.study)
