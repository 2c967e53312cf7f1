# Stage 0: the models, as transformers checkpoints under resources/models/{model}/.


rule prepare_model:
    output:
        model=directory(f"{RESOURCES}/models/{{model}}"),
    params:
        spec=model_spec,
    log:
        "logs/prepare_model/{model}.log",
    # downloads need the login node's network; conversion is light
    localrule: True
    conda:
        "../../envs/quantize.yaml"
    script:
        "../scripts/prepare_model.py"
