"""Rule punkt_tab -> llm_footprint.quality.nltk_offline.write_punkt_tab."""
from _job import call, start

start(snakemake)
from llm_footprint.quality.nltk_offline import write_punkt_tab

call(write_punkt_tab, snakemake, nltk_data=snakemake.output.nltk_data)
