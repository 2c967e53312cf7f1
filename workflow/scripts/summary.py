"""Rule summary -> llm_footprint.summary.summary_table."""
from _job import call, start

start(snakemake)
from pathlib import Path

from llm_footprint.study_footprint import read_json
from llm_footprint.summary import Tables, summary_table
from llm_footprint.tables import read_csv_rows

inputs = snakemake.input
scenarios = {Path(path).stem: read_csv_rows(path) for path in inputs.scenarios}
tables = Tables(
    compression=read_csv_rows(inputs.compression) if inputs.get("compression") else [],
    quality=read_csv_rows(inputs.quality[0]) if inputs.quality else [],
    energy=read_csv_rows(inputs.energy), scenarios=scenarios,
    carbon=read_csv_rows(inputs.carbon), tradeoff=read_csv_rows(inputs.tradeoff))
replays = {(model, variant, setup): folder
           for model, variant, setup, folder in snakemake.params.replay_dirs}
# what each variant's compression cost: its chain's steps and its own compress job
compression_kwh = {}
for model, variant, records in snakemake.params.compression_records:
    energies = [read_json(path).get("hardware_energy_kwh") for path in records]
    if energies and all(e is not None for e in energies):
        compression_kwh[(model, variant)] = sum(energies)
call(summary_table, snakemake, tables=tables, baseline_variant=snakemake.params.baseline_variant,
     teachers=snakemake.params.teachers, out_csv=snakemake.output.table, energy_dirs=replays,
     compression_kwh=compression_kwh)
