# Imported measurements (config key `measurements`): the energy and quality tables come from
# files measured elsewhere, and the stages that run models are not part of the workflow.


rule import_energy:
    input:
        measurements=config["measurements"]["energy"],
    output:
        table=report(
            f"{RESULTS}/tables/energy.csv",
            caption="../report/energy.rst",
            category="Energy",
        ),
    log:
        "logs/import_energy.log",
    localrule: True
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/import_energy.py"


rule import_quality:
    input:
        measurements=config["measurements"]["quality"] or [],
    output:
        table=report(
            f"{RESULTS}/tables/quality.csv",
            caption="../report/quality.rst",
            category="Quality",
        ),
    params:
        baseline_variant=STUDY.baseline_variant,
    log:
        "logs/import_quality.log",
    localrule: True
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/import_quality.py"
