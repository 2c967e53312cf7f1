"""Rule prepare_model -> llm_footprint.prepare.prepare_model."""
from _job import start, tracked

start(snakemake)
from llm_footprint.prepare import prepare_model

with tracked(snakemake, "cpu"):
    prepare_model(snakemake.wildcards.model, snakemake.params.spec, snakemake.output.model)
