"""Rule front_page -> llm_footprint.front_page.front_page."""
from _job import call, start

start(snakemake)
from pathlib import Path

from llm_footprint.carbon import read_hourly_profile
from llm_footprint.front_page import front_page
from llm_footprint.tables import read_csv_rows

inputs = snakemake.input
profile = snakemake.params.carbon.get("hourly_profile")
call(
    front_page, snakemake,
    intro=Path(inputs.intro).read_text(encoding="utf-8"),
    summary=read_csv_rows(inputs.summary),
    recommendation=read_csv_rows(inputs.recommendation),
    recommend=snakemake.params.recommend,
    compression=read_csv_rows(inputs.compression) if inputs.get("compression") else [],
    scenarios=snakemake.params.scenarios,
    hourly=read_hourly_profile(profile["file"]) if profile else None,
    out_rst=snakemake.output.page,
    footprint=read_csv_rows(inputs.footprint) if inputs.get("footprint") else [],
    # the table shows the metrics the trade-off and the recommendation use; the CSV has all
    metrics=[f"{m['task']}_{m['metric']}" for m in (*snakemake.params.tradeoff["metrics"],
                                                   *snakemake.params.recommend["quality_floors"])])
