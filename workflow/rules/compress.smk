# Stage 1: compressed checkpoints under results/checkpoints/{model}/{variant}/.


rule compress:
    input:
        model=f"{RESOURCES}/models/{{model}}",
    output:
        checkpoint=directory(f"{RESULTS}/checkpoints/{{model}}/{{variant}}"),
    wildcard_constraints:
        variant=_one_of(GPTQ_VARIANTS) or "$^",
    params:
        variant=variant_spec,
        device=default_device,
    threads: default_setup_threads()
    resources:
        mem_mb=default_setup_mem_mb,
        runtime=runtime_min(120),
        energy_exclusive=1,
    log:
        "logs/compress/{model}/{variant}.log",
    conda:
        "../../envs/quantize.yaml"
    script:
        "../scripts/compress.py"


# Method none: a manifest that points at the prepared weights (nothing to compute).
rule reference_checkpoint:
    input:
        model=f"{RESOURCES}/models/{{model}}",
    output:
        checkpoint=directory(f"{RESULTS}/checkpoints/{{model}}/{{variant}}"),
    wildcard_constraints:
        variant=_one_of(REFERENCE_VARIANTS) or "$^",
    params:
        variant=variant_spec,
        device=default_device,
    log:
        "logs/compress/{model}/{variant}.log",
    localrule: True
    conda:
        "../../envs/quantize.yaml"
    script:
        "../scripts/compress.py"


rule compression_table:
    input:
        checkpoints=checkpoint_dirs(),
    output:
        table=report(
            f"{RESULTS}/tables/compression.csv",
            caption="../report/compression.rst",
            category="Compression",
        ),
    log:
        "logs/compression_table.log",
    localrule: True
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/compression_table.py"
