# Stage 2: quality of every (model, variant) with lm-evaluation-harness, on the default setup.


rule punkt_tab:
    output:
        nltk_data=directory(f"{RESOURCES}/nltk_data"),
    log:
        "logs/punkt_tab.log",
    localrule: True
    conda:
        "../../envs/evaluate.yaml"
    script:
        "../scripts/punkt_tab.py"


rule evaluate:
    input:
        model=f"{RESOURCES}/models/{{model}}",
        checkpoint=f"{RESULTS}/checkpoints/{{model}}/{{variant}}",
        nltk_data=NLTK_DATA,
        prefetch=PREFETCH,
    output:
        quality=f"{RESULTS}/quality/{{model}}/{{variant}}.json",
    params:
        quality=canonical(config["quality"]),
        setup_id=STUDY.default_setup,
        setup=runtime_setup(STUDY.default_setup),
        study=STUDY.name,
    threads: default_setup_threads()
    resources:
        mem_mb=default_setup_mem_mb,
        runtime=evaluate_runtime_min,
        energy_exclusive=1,
        slurm_partition=default_setup_slurm("slurm_partition"),
        gpu=default_setup_slurm("gpu"),
        gpu_model=default_setup_slurm("gpu_model"),
    log:
        "logs/evaluate/{model}/{variant}.log",
    conda:
        "../../envs/evaluate.yaml"
    script:
        "../scripts/evaluate.py"


rule quality_table:
    input:
        quality=quality_files(),
    output:
        table=report(
            f"{RESULTS}/tables/quality.csv",
            caption="../report/quality.rst",
            category="Quality",
        ),
    params:
        baseline_variant=STUDY.baseline_variant,
    log:
        "logs/quality_table.log",
    localrule: True
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/quality_table.py"
