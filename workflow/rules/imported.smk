# Imported measurements (config key `measurements`): the energy and quality tables come from
# files measured elsewhere, and the stages that run models are not part of the workflow.


rule import_energy:
    input:
        measurements=PLAN.measurement_file("energy"),
    output:
        table=report(
            PLAN.paths.table("energy"),
            caption="../report/energy.rst",
            category="Energy",
        ),
    log:
        PLAN.paths.log("import_energy"),
    localrule: True
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/import_energy.py"


rule import_quality:
    input:
        measurements=PLAN.measurement_file("quality"),
    output:
        table=report(
            PLAN.paths.table("quality"),
            caption="../report/quality.rst",
            category="Quality",
        ),
    log:
        PLAN.paths.log("import_quality"),
    localrule: True
    conda:
        "../../envs/report.yaml"
    params:
        baseline_variant=PLAN.study.baseline_variant,
    script:
        "../scripts/import_quality.py"
