"""Rules compress and reference_checkpoint -> llm_footprint.compress.compress."""
from _job import start, tracked

start(snakemake, offline=True)
from llm_footprint.compress import compress

with tracked(snakemake, snakemake.params.device):
    compress(snakemake.wildcards.model, snakemake.wildcards.variant, snakemake.params.variant,
             snakemake.input.model, snakemake.output.checkpoint, device=snakemake.params.device,
             threads=snakemake.threads)
