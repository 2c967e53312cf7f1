"""Rule tradeoff -> llm_footprint.tradeoff.tradeoff_table."""
from _job import call, start

start(snakemake)
from llm_footprint.tradeoff import tradeoff_table

call(tradeoff_table, snakemake, energy_csv=snakemake.input.energy,
     quality_csv=snakemake.input.quality[0] if snakemake.input.quality else None,
     tradeoff=snakemake.params.tradeoff, baseline_variant=snakemake.params.baseline_variant,
     teachers=snakemake.params.teachers, out_csv=snakemake.output.table)
