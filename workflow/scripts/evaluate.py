"""Rule evaluate -> llm_footprint.quality.evaluate.evaluate_checkpoint."""
from _job import start, tracked

start(snakemake, offline=True)
from llm_footprint.quality.evaluate import evaluate_checkpoint

with tracked(snakemake, snakemake.params.setup["device"]):
    evaluate_checkpoint(
        snakemake.wildcards.model, snakemake.wildcards.variant, snakemake.input.checkpoint,
        snakemake.params.quality, snakemake.params.setup_id, snakemake.params.setup,
        snakemake.input.nltk_data or None, snakemake.output.quality, threads=snakemake.threads,
        study_name=snakemake.params.study)
