# Stage 0: the models, as transformers checkpoints under resources/models/{model}/.


rule prepare_model:
    output:
        model=directory(PLAN.paths.model()),
    params:
        spec=model_spec,
    log:
        PLAN.paths.log("prepare_model", "{model}"),
    # downloads need the login node's network; conversion is light
    localrule: True
    conda:
        "../../envs/quantize.yaml"
    script:
        "../scripts/prepare_model.py"
