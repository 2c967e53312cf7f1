"""Rule compress_step -> llm_footprint.compression.compress (one step of a chain)."""
from _job import call, start, tracked

start(snakemake, offline=True)
from llm_footprint.compression import compress

with tracked(snakemake, snakemake.params.device):
    # the step's key stands for the variant: its checkpoint is the chain's prefix
    call(compress, snakemake, variant_id=snakemake.wildcards.step, variant=snakemake.params.step,
         prepared_dir=snakemake.input.model, out_dir=snakemake.output.checkpoint,
         device=snakemake.params.device)
