# On the login node: everything the GPU jobs read from the hub, so they can run offline.


rule prefetch:
    output:
        record=f"{RESOURCES}/prefetch/{STUDY.name}.json",
    params:
        plan=canonical(PREFETCH_PLAN),
    log:
        "logs/prefetch.log",
    localrule: True
    conda:
        "../../envs/evaluate.yaml"
    script:
        "../scripts/prefetch.py"
