"""Rule energy_table -> llm_footprint.tables.energy_table."""
from _job import call, start

start(snakemake)
from pathlib import Path

from llm_footprint.tables import energy_table

call(energy_table, snakemake,
     summary_files=[Path(d) / "summary.json" for d in snakemake.input.measurements],
     out_csv=snakemake.output.table)
