"""Rule recommendation -> llm_footprint.recommend.recommendation_table."""
from _job import start

start(snakemake)
from llm_footprint.recommend import recommendation_table
from llm_footprint.tables import read_csv_rows

quality = read_csv_rows(snakemake.input.quality[0]) if snakemake.input.quality else []
directions = {(r["task"], r["metric"]): r.get("higher_is_better") != "False" for r in quality}
recommendation_table(read_csv_rows(snakemake.input.summary), snakemake.params.recommend,
                     directions, snakemake.output.table)
