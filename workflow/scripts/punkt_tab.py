"""Rule punkt_tab -> llm_footprint.quality.nltk_offline.write_punkt_tab."""
from _job import start

start(snakemake)
from llm_footprint.quality.nltk_offline import write_punkt_tab

write_punkt_tab(snakemake.output.nltk_data)
