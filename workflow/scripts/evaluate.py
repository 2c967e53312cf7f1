"""Rule evaluate -> llm_footprint.quality.evaluate.evaluate_checkpoint."""
from _job import call, start, tracked

start(snakemake, offline=True)
from llm_footprint.quality.evaluate import evaluate_checkpoint

with tracked(snakemake, snakemake.params.setup["device"]):
    call(evaluate_checkpoint, snakemake, checkpoint_dir=snakemake.input.checkpoint,
         quality=snakemake.params.quality, setup_id=snakemake.params.setup_id,
         setup=snakemake.params.setup, nltk_data=snakemake.input.nltk_data or None,
         out_json=snakemake.output.quality, study_name=snakemake.params.study)
