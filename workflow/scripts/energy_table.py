"""Rule energy_table -> llm_footprint.tables.energy_table."""
from _job import start

start(snakemake)
from pathlib import Path

from llm_footprint.tables import energy_table

energy_table([Path(d) / "summary.json" for d in snakemake.input.measurements],
             snakemake.output.table)
