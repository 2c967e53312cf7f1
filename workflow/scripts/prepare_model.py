"""Rule prepare_model -> llm_footprint.prepare.prepare_model."""
from _job import start

start(snakemake)
from llm_footprint.prepare import prepare_model

prepare_model(snakemake.wildcards.model, snakemake.params.spec, snakemake.output.model)
