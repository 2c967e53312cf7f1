# Stage 4: carbon, trade-off score, relative change, feasibility, and the figures. These rules
# read only the result tables, so they run the same on measured and imported results.


# Computed again here, after the models are prepared, from their exact architectures (the
# parse-time estimate that chose which tuples run may only have had a parameter count).
rule feasibility:
    input:
        models=prepared_models(),
    output:
        table=report(
            f"{RESULTS}/tables/feasibility.csv",
            caption="../report/feasibility.rst",
            category="Feasibility",
        ),
    params:
        study=canonical(
            {k: config[k] for k in ("study", "models", "variants", "setups", "feasibility")}
        ),
    log:
        "logs/feasibility.log",
    localrule: True
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/feasibility_table.py"


rule carbon:
    input:
        energy=f"{RESULTS}/tables/energy.csv",
    output:
        table=report(
            f"{RESULTS}/tables/carbon.csv",
            caption="../report/carbon.rst",
            category="Carbon",
        ),
    params:
        carbon=canonical(config["carbon"]),
        setups=canonical(config["setups"]),
    log:
        "logs/carbon.log",
    localrule: True
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/carbon.py"


rule tradeoff:
    input:
        energy=f"{RESULTS}/tables/energy.csv",
        quality=quality_table(),
    output:
        table=report(
            f"{RESULTS}/tables/tradeoff.csv",
            caption="../report/tradeoff.rst",
            category="Trade-off",
        ),
    params:
        tradeoff=canonical(config["tradeoff"]),
        baseline_variant=STUDY.baseline_variant,
        teachers=STUDY.teachers,
    log:
        "logs/tradeoff.log",
    localrule: True
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/tradeoff.py"


rule relative_change:
    input:
        energy=f"{RESULTS}/tables/energy.csv",
        quality=quality_table(),
    output:
        table=report(
            f"{RESULTS}/tables/relative_change.csv",
            caption="../report/relative_change.rst",
            category="Trade-off",
        ),
    params:
        tradeoff=canonical(config["tradeoff"]),
        baseline_variant=STUDY.baseline_variant,
        teachers=STUDY.teachers,
    log:
        "logs/relative_change.log",
    localrule: True
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/relative_change.py"


rule figure_carbon_bubbles:
    input:
        table=f"{RESULTS}/tables/carbon.csv",
    output:
        png=report(
            f"{RESULTS}/figures/carbon_bubbles_{{model}}.png",
            caption="../report/carbon_bubbles.rst",
            category="Carbon",
            labels={"model": "{model}", "figure": "emissions per country"},
        ),
        svg=f"{RESULTS}/figures/carbon_bubbles_{{model}}.svg",
    params:
        figure="carbon_bubbles",
    log:
        "logs/figures/carbon_bubbles_{model}.log",
    localrule: True
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/figure.py"


rule figure_energy_components:
    input:
        table=f"{RESULTS}/tables/energy.csv",
    output:
        png=report(
            f"{RESULTS}/figures/energy_components.png",
            caption="../report/energy_components.rst",
            category="Energy",
            labels={"figure": "energy by component"},
        ),
        svg=f"{RESULTS}/figures/energy_components.svg",
    params:
        figure="energy_components",
    log:
        "logs/figures/energy_components.log",
    localrule: True
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/figure.py"


rule figure_quality_vs_energy:
    input:
        table=f"{RESULTS}/tables/energy.csv",
        quality=quality_table(),
    output:
        png=report(
            f"{RESULTS}/figures/quality_vs_energy.png",
            caption="../report/quality_vs_energy.rst",
            category="Trade-off",
            labels={"figure": "quality vs energy"},
        ),
        svg=f"{RESULTS}/figures/quality_vs_energy.svg",
    params:
        figure="quality_vs_energy",
        quality_metric=report_quality_metric(),
        energy_figure=config["tradeoff"]["energy_figure"],
    log:
        "logs/figures/quality_vs_energy.log",
    localrule: True
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/figure.py"


rule figure_relative_change:
    input:
        table=f"{RESULTS}/tables/relative_change.csv",
    output:
        png=report(
            f"{RESULTS}/figures/relative_change.png",
            caption="../report/relative_change.rst",
            category="Trade-off",
            labels={"figure": "relative change"},
        ),
        svg=f"{RESULTS}/figures/relative_change.svg",
    params:
        figure="relative_change",
    log:
        "logs/figures/relative_change.log",
    localrule: True
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/figure.py"


rule figure_feasibility:
    input:
        table=f"{RESULTS}/tables/feasibility.csv",
    output:
        png=report(
            f"{RESULTS}/figures/feasibility.png",
            caption="../report/feasibility.rst",
            category="Feasibility",
            labels={"figure": "feasibility matrix"},
        ),
        svg=f"{RESULTS}/figures/feasibility.svg",
    params:
        figure="feasibility",
    log:
        "logs/figures/feasibility.log",
    localrule: True
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/figure.py"
