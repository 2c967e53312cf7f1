# Stage 3: inference energy of every (model, variant, setup), replaying one prompt schedule.


rule prompt_schedule:
    input:
        prefetch=PREFETCH,
    output:
        schedule=f"{RESULTS}/energy/schedule.json",
    params:
        # only what the schedule is made of, so that e.g. more repeats reuse it
        energy=canonical({k: config["energy"][k] for k in ("prompts", "schedule")}),
    log:
        "logs/prompt_schedule.log",
    localrule: True
    conda:
        "../../envs/energy.yaml"
    script:
        "../scripts/prompt_schedule.py"


# Energy runs spoil each other's measurement: each takes the whole `energy_exclusive`
# capacity, which every other heavy job needs a share of (see common.smk), so on one machine
# a measurement never overlaps another job of the workflow.
rule measure_energy:
    input:
        model=f"{RESOURCES}/models/{{model}}",
        checkpoint=f"{RESULTS}/checkpoints/{{model}}/{{variant}}",
        schedule=f"{RESULTS}/energy/schedule.json",
    output:
        measurement=directory(f"{RESULTS}/energy/{{model}}/{{variant}}/{{setup}}"),
    params:
        energy=canonical(config["energy"]),
        setup=setup_spec,
        study=STUDY.name,
    threads: setup_threads
    resources:
        mem_mb=setup_mem_mb,
        runtime=energy_runtime_min,
        energy_exclusive=ENERGY_EXCLUSIVE_CAPACITY,
        slurm_partition=setup_slurm("slurm_partition"),
        gpu=setup_slurm("gpu"),
        gpu_model=setup_slurm("gpu_model"),
    log:
        "logs/measure_energy/{model}/{variant}/{setup}.log",
    conda:
        "../../envs/energy.yaml"
    script:
        "../scripts/measure_energy.py"


rule energy_table:
    input:
        measurements=energy_dirs(),
    output:
        table=report(
            f"{RESULTS}/tables/energy.csv",
            caption="../report/energy.rst",
            category="Energy",
        ),
    log:
        "logs/energy_table.log",
    localrule: True
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/energy_table.py"
