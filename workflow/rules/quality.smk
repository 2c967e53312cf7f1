# Stage 2: quality of every (model, variant) with lm-evaluation-harness, on the default setup.


rule punkt_tab:
    output:
        nltk_data=directory(PLAN.paths.nltk_data),
    log:
        PLAN.paths.log("punkt_tab"),
    localrule: True
    conda:
        "../../envs/evaluate.yaml"
    script:
        "../scripts/punkt_tab.py"


rule evaluate:
    input:
        model=PLAN.paths.model(),
        checkpoint=PLAN.paths.checkpoint(),
        nltk_data=PLAN.paths.nltk_data if PLAN.needs_punkt else [],
        prefetch=PLAN.prefetch_record,
    output:
        quality=PLAN.paths.quality(),
        footprint=PLAN.paths.footprint("evaluate", "{model}", "{variant}"),
    log:
        PLAN.paths.log("evaluate", "{model}", "{variant}"),
    priority: PLAN.priority_of("evaluate")
    conda:
        "../../envs/evaluate.yaml"
    threads: PLAN.threads_of("evaluate")
    resources:
        **PLAN.resources("evaluate"),
    params:
        quality=PLAN.section("quality"),
        footprint=PLAN.footprint_params,
        setup_id=PLAN.study.default_setup,
        setup=PLAN.runtime_setup(PLAN.study.default_setup),
        study=PLAN.study.name,
    script:
        "../scripts/evaluate.py"


rule quality_table:
    input:
        quality=PLAN.quality_files(),
    output:
        table=report(
            PLAN.paths.table("quality"),
            caption="../report/quality.rst",
            category="Quality",
        ),
    log:
        PLAN.paths.log("quality_table"),
    localrule: True
    conda:
        "../../envs/report.yaml"
    params:
        baseline_variant=PLAN.study.baseline_variant,
        teachers=PLAN.study.teachers,
    script:
        "../scripts/quality_table.py"
