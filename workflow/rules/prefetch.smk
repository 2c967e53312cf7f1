# On the login node: everything the GPU jobs read from the hub, so they can run offline.


rule prefetch:
    output:
        record=PLAN.prefetch_record,
    log:
        PLAN.paths.log("prefetch"),
    localrule: True
    conda:
        "../../envs/evaluate.yaml"
    params:
        plan=PLAN.prefetch,
    script:
        "../scripts/prefetch.py"
