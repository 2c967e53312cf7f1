"""Rule recommendation -> llm_footprint.recommend.recommendation_table."""
from _job import call, start

start(snakemake)
from llm_footprint.recommend import recommendation_table
from llm_footprint.tables import read_csv_rows

quality = read_csv_rows(snakemake.input.quality[0]) if snakemake.input.quality else []
directions = {(r["task"], r["metric"]): r.get("higher_is_better") != "False" for r in quality}
call(recommendation_table, snakemake, summary=read_csv_rows(snakemake.input.summary),
     recommend=snakemake.params.recommend, directions=directions, out_csv=snakemake.output.table)
