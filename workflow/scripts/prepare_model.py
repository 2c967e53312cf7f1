"""Rule prepare_model -> llm_footprint.prepare.prepare_model."""
from _job import call, start, tracked

start(snakemake)
from llm_footprint.prepare import prepare_model

with tracked(snakemake, "cpu"):
    call(prepare_model, snakemake, spec=snakemake.params.spec, out_dir=snakemake.output.model)
