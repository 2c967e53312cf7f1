"""Rule compress -> llm_footprint.compress.compress (model and variant ids from the wildcards)."""
from _job import call, start, tracked

start(snakemake, offline=True)
from llm_footprint.compress import compress

with tracked(snakemake, snakemake.params.device):
    call(compress, snakemake, variant=snakemake.params.variant, prepared_dir=snakemake.input.model,
         out_dir=snakemake.output.checkpoint, device=snakemake.params.device)
