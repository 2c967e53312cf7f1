# Stage 0: the models, as transformers checkpoints under resources/models/{model}/.


rule prepare_model:
    output:
        model=directory(PLAN.paths.model()),
        footprint=PLAN.paths.footprint("prepare_model", "{model}"),
    log:
        PLAN.paths.log("prepare_model", "{model}"),
    # downloads need the login node's network; conversion is light
    localrule: True
    conda:
        "../../envs/quantize.yaml"
    params:
        spec=model_spec,
        footprint=PLAN.footprint_params,
    script:
        "../scripts/prepare_model.py"
