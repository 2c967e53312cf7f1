"""Rule compress -> llm_footprint.compression.compress (the variant's method does the work)."""
from _job import start

start(snakemake, offline=True)
from llm_footprint.compression import compress

compress(model_id=snakemake.wildcards.model, variant_id=snakemake.wildcards.variant,
         variant=snakemake.params.variant, prepared_dir=snakemake.input.model,
         out_dir=snakemake.output.checkpoint, device=snakemake.params.device,
         threads=snakemake.threads)
