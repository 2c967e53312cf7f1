"""Rule compress_step -> llm_footprint.compression.compress (one step of a chain)."""
from _job import start, tracked

start(snakemake, offline=True)
from llm_footprint.compression import compress

with tracked(snakemake, snakemake.params.device):
    compress(model_id=snakemake.wildcards.model, variant_id=snakemake.wildcards.step,
             variant=snakemake.params.step, prepared_dir=snakemake.input.model,
             out_dir=snakemake.output.checkpoint, device=snakemake.params.device,
             threads=snakemake.threads)
