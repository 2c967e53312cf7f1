# Stage 4: carbon, trade-off score, relative change, feasibility, and the figures. These rules
# read only the result tables, so they run the same on measured and imported results.


# Computed again here, after the models are prepared, from their exact architectures (the
# parse-time estimate that chose which tuples run may only have had a parameter count), with
# the peak memory the energy stage measured beside each estimate.
rule feasibility:
    input:
        unpack(PLAN.feasibility_inputs),
    output:
        table=report(
            PLAN.paths.table("feasibility"),
            caption="../report/feasibility.rst",
            category="Feasibility",
        ),
    log:
        PLAN.paths.log("feasibility"),
    localrule: True
    conda:
        "../../envs/report.yaml"
    params:
        study=PLAN.feasibility_params,
    script:
        "../scripts/feasibility_table.py"


rule carbon:
    input:
        energy=PLAN.paths.table("energy"),
    output:
        table=report(
            PLAN.paths.table("carbon"),
            caption="../report/carbon.rst",
            category="Carbon",
        ),
    log:
        PLAN.paths.log("carbon"),
    localrule: True
    conda:
        "../../envs/report.yaml"
    params:
        carbon=PLAN.section("carbon"),
        setups=PLAN.section("setups"),
    script:
        "../scripts/carbon.py"


rule tradeoff:
    input:
        energy=PLAN.tradeoff_energy_table,
        quality=PLAN.quality_table(),
    output:
        table=report(
            PLAN.paths.table("tradeoff"),
            caption="../report/tradeoff.rst",
            category="Trade-off",
        ),
    log:
        PLAN.paths.log("tradeoff"),
    localrule: True
    conda:
        "../../envs/report.yaml"
    params:
        tradeoff=PLAN.section("tradeoff"),
        baseline_variant=PLAN.study.baseline_variant,
        teachers=PLAN.study.teachers,
    script:
        "../scripts/tradeoff.py"


# the same inputs and parameters as the trade-off score; its own script
rule relative_change:
    input:
        energy=PLAN.paths.table("energy"),
        quality=PLAN.quality_table(),
    output:
        table=report(
            PLAN.paths.table("relative_change"),
            caption="../report/relative_change.rst",
            category="Trade-off",
        ),
    log:
        PLAN.paths.log("relative_change"),
    localrule: True
    conda:
        "../../envs/report.yaml"
    params:
        tradeoff=PLAN.section("tradeoff"),
        baseline_variant=PLAN.study.baseline_variant,
        teachers=PLAN.study.teachers,
    script:
        "../scripts/relative_change.py"


# The study summary: per tuple, what a reader asks first, every change tested at 95 %.
rule summary:
    input:
        unpack(PLAN.summary_inputs),
    output:
        table=report(
            PLAN.paths.table("summary"),
            caption="../report/summary.rst",
            category="Summary",
        ),
    log:
        PLAN.paths.log("summary"),
    localrule: True
    conda:
        "../../envs/report.yaml"
    params:
        baseline_variant=PLAN.study.baseline_variant,
        teachers=PLAN.study.teachers,
        replay_dirs=PLAN.replay_dirs,
        compression_records=PLAN.compression_records,
    script:
        "../scripts/summary.py"


rule recommendation:
    input:
        summary=PLAN.paths.table("summary"),
        quality=PLAN.quality_table(),
    output:
        table=report(
            PLAN.paths.table("recommendation"),
            caption="../report/recommendation.rst",
            category="Summary",
        ),
    log:
        PLAN.paths.log("recommendation"),
    localrule: True
    conda:
        "../../envs/report.yaml"
    params:
        recommend=PLAN.section("recommend"),
    script:
        "../scripts/recommendation.py"


# What running the study cost: the heavy jobs' own trackers and the measurements' windows.
rule study_footprint:
    input:
        footprints=PLAN.footprint_records(),
        replays=PLAN.energy_dirs(),
        scenarios=[d for name in PLAN.scenarios for d in PLAN.scenario_dirs(name)],
    output:
        table=report(
            PLAN.paths.table("study_footprint"),
            caption="../report/study_footprint.rst",
            category="Summary",
        ),
    log:
        PLAN.paths.log("study_footprint"),
    localrule: True
    conda:
        "../../envs/report.yaml"
    params:
        carbon=PLAN.section("carbon"),
        gpus_per_setup=PLAN.gpus_per_setup,
    script:
        "../scripts/study_footprint.py"


# The report's front page (the Snakefile's report directive reads it once it exists).
rule front_page:
    input:
        intro=f"{workflow.basedir}/workflow/report/workflow.rst",
        summary=PLAN.paths.table("summary"),
        recommendation=PLAN.paths.table("recommendation"),
        compression=[] if PLAN.imported else PLAN.paths.table("compression"),
        footprint=[] if PLAN.imported else PLAN.paths.table("study_footprint"),
    output:
        page=PLAN.front_page,
    log:
        PLAN.paths.log("front_page"),
    localrule: True
    conda:
        "../../envs/report.yaml"
    params:
        recommend=PLAN.section("recommend"),
        tradeoff=PLAN.section("tradeoff"),
        carbon=PLAN.section("carbon"),
        scenarios=["timed_replay", *PLAN.scenarios],
    script:
        "../scripts/front_page.py"


# Figures: one rule skeleton (workflow/scripts/figure.py draws the figure named in params),
# the others derived from it with their own table, report entry and parameters.
rule figure_energy_components:
    input:
        table=PLAN.paths.table("energy"),
    output:
        png=report(
            PLAN.paths.figure("energy_components", "png"),
            caption="../report/energy_components.rst",
            category="Energy",
            labels={"figure": "energy by component"},
        ),
        svg=PLAN.paths.figure("energy_components", "svg"),
    log:
        PLAN.paths.log("figures", "energy_components"),
    localrule: True
    conda:
        "../../envs/report.yaml"
    params:
        figure="energy_components",
    script:
        "../scripts/figure.py"


use rule figure_energy_components as figure_carbon_bubbles with:
    input:
        table=PLAN.paths.table("carbon"),
        summary=PLAN.paths.table("summary"),
    output:
        png=report(
            PLAN.paths.figure("carbon_bubbles_{model}", "png"),
            caption="../report/carbon_bubbles.rst",
            category="Carbon",
            labels={"model": "{model}", "figure": "emissions per country"},
        ),
        svg=PLAN.paths.figure("carbon_bubbles_{model}", "svg"),
    log:
        PLAN.paths.log("figures", "carbon_bubbles_{model}"),
    params:
        figure="carbon_bubbles",
        unit_of_work=PLAN.section("report")["unit_of_work"],


use rule figure_energy_components as figure_quality_vs_energy with:
    input:
        table=PLAN.paths.table("energy"),
        quality=PLAN.quality_table(),
    output:
        png=report(
            PLAN.paths.figure("quality_vs_energy", "png"),
            caption="../report/quality_vs_energy.rst",
            category="Trade-off",
            labels={"figure": "quality vs energy"},
        ),
        svg=PLAN.paths.figure("quality_vs_energy", "svg"),
    log:
        PLAN.paths.log("figures", "quality_vs_energy"),
    params:
        figure="quality_vs_energy",
        quality_metric=PLAN.report_quality_metric,
        energy_figure=PLAN.report_energy_figure,


use rule figure_energy_components as figure_relative_change with:
    input:
        table=PLAN.paths.table("relative_change"),
    output:
        png=report(
            PLAN.paths.figure("relative_change", "png"),
            caption="../report/relative_change.rst",
            category="Trade-off",
            labels={"figure": "relative change"},
        ),
        svg=PLAN.paths.figure("relative_change", "svg"),
    log:
        PLAN.paths.log("figures", "relative_change"),
    params:
        figure="relative_change",


use rule figure_energy_components as figure_feasibility with:
    input:
        table=PLAN.paths.table("feasibility"),
    output:
        png=report(
            PLAN.paths.figure("feasibility", "png"),
            caption="../report/feasibility.rst",
            category="Feasibility",
            labels={"figure": "feasibility matrix"},
        ),
        svg=PLAN.paths.figure("feasibility", "svg"),
    log:
        PLAN.paths.log("figures", "feasibility"),
    params:
        figure="feasibility",


# `use rule ... with:` does not carry `localrule` over: the figures derived from the skeleton
# are named here so that they, too, run on the login node rather than as cluster jobs.
localrules:
    figure_carbon_bubbles,
    figure_quality_vs_energy,
    figure_relative_change,
    figure_feasibility,
    figure_paper_change,
    figure_opt_scores,


# The companion paper's Figures 2-4 (per model) and 5 (opt across models and weight sets).
use rule figure_energy_components as figure_paper_change with:
    input:
        table=PLAN.paths.table("relative_change"),
        summary=PLAN.paths.table("summary"),
    output:
        png=report(
            PLAN.paths.figure("paper_change_{model}", "png"),
            caption="../report/paper_change.rst",
            category="Trade-off",
            labels={"model": "{model}", "figure": "change per technique"},
        ),
        svg=PLAN.paths.figure("paper_change_{model}", "svg"),
    log:
        PLAN.paths.log("figures", "paper_change_{model}"),
    params:
        figure="paper_change",
        quality_metric=PLAN.report_quality_metric,
        time_figure=PLAN.section("tradeoff")["time_figure"],
        energy_figure=PLAN.section("tradeoff")["energy_figure"],
        energy_note=PLAN.energy_estimate_note,
        unit_of_work=PLAN.section("report")["unit_of_work"],


use rule figure_energy_components as figure_opt_scores with:
    input:
        table=PLAN.paths.table("tradeoff"),
    output:
        png=report(
            PLAN.paths.figure("opt_scores", "png"),
            caption="../report/paper_opt.rst",
            category="Trade-off",
            labels={"figure": "opt scores"},
        ),
        svg=PLAN.paths.figure("opt_scores", "svg"),
    log:
        PLAN.paths.log("figures", "opt_scores"),
    params:
        figure="opt_scores",
