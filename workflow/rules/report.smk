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
    params:
        study=PLAN.feasibility_params,
    log:
        PLAN.paths.log("feasibility"),
    localrule: True
    conda:
        "../../envs/report.yaml"
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
    params:
        carbon=PLAN.section("carbon"),
        setups=PLAN.section("setups"),
    log:
        PLAN.paths.log("carbon"),
    localrule: True
    conda:
        "../../envs/report.yaml"
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
    params:
        tradeoff=PLAN.section("tradeoff"),
        baseline_variant=PLAN.study.baseline_variant,
        teachers=PLAN.study.teachers,
    log:
        PLAN.paths.log("tradeoff"),
    localrule: True
    conda:
        "../../envs/report.yaml"
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
    params:
        tradeoff=PLAN.section("tradeoff"),
        baseline_variant=PLAN.study.baseline_variant,
        teachers=PLAN.study.teachers,
    log:
        PLAN.paths.log("relative_change"),
    localrule: True
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/relative_change.py"


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
    params:
        figure="energy_components",
    log:
        PLAN.paths.log("figures", "energy_components"),
    localrule: True
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/figure.py"


use rule figure_energy_components as figure_carbon_bubbles with:
    input:
        table=PLAN.paths.table("carbon"),
    output:
        png=report(
            PLAN.paths.figure("carbon_bubbles_{model}", "png"),
            caption="../report/carbon_bubbles.rst",
            category="Carbon",
            labels={"model": "{model}", "figure": "emissions per country"},
        ),
        svg=PLAN.paths.figure("carbon_bubbles_{model}", "svg"),
    params:
        figure="carbon_bubbles",
    log:
        PLAN.paths.log("figures", "carbon_bubbles_{model}"),


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
    params:
        figure="quality_vs_energy",
        quality_metric=PLAN.report_quality_metric,
        energy_figure=PLAN.report_energy_figure,
    log:
        PLAN.paths.log("figures", "quality_vs_energy"),


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
    params:
        figure="relative_change",
    log:
        PLAN.paths.log("figures", "relative_change"),


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
    params:
        figure="feasibility",
    log:
        PLAN.paths.log("figures", "feasibility"),


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
    output:
        png=report(
            PLAN.paths.figure("paper_change_{model}", "png"),
            caption="../report/paper_change.rst",
            category="Trade-off",
            labels={"model": "{model}", "figure": "change per technique"},
        ),
        svg=PLAN.paths.figure("paper_change_{model}", "svg"),
    params:
        figure="paper_change",
        quality_metric=PLAN.report_quality_metric,
        time_figure=PLAN.section("tradeoff")["time_figure"],
        energy_figure=PLAN.section("tradeoff")["energy_figure"],
        energy_note=PLAN.energy_estimate_note,
    log:
        PLAN.paths.log("figures", "paper_change_{model}"),


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
    params:
        figure="opt_scores",
    log:
        PLAN.paths.log("figures", "opt_scores"),
