"""Rule energy_table -> llm_footprint.tables.energy_table."""
from _job import start

start(snakemake)
from llm_footprint.tables import energy_table

from pathlib import Path

energy_table([Path(d) / "summary.json" for d in snakemake.input.measurements],
             snakemake.output.table)
