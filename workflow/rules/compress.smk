# Stage 1: compressed checkpoints under results/checkpoints/{model}/{variant}/.


rule compress:
    input:
        model=f"{RESOURCES}/models/{{model}}",
        prefetch=PREFETCH,
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
        runtime=compress_runtime_min,
        energy_exclusive=1,
        slurm_partition=default_setup_slurm("slurm_partition"),
        gpu=default_setup_slurm("gpu"),
        gpu_model=default_setup_slurm("gpu_model"),
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
