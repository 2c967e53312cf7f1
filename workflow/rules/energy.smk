# Stage 3: inference energy of every (model, variant, setup), replaying one prompt schedule.


rule prompt_schedule:
    input:
        prefetch=PLAN.prefetch_record,
    output:
        schedule=PLAN.paths.schedule,
    log:
        PLAN.paths.log("prompt_schedule"),
    localrule: True
    conda:
        "../../envs/energy.yaml"
    params:
        energy=PLAN.schedule_params,
    script:
        "../scripts/prompt_schedule.py"


# Energy runs spoil each other's measurement: each takes the whole `energy_exclusive`
# capacity, which every other heavy job needs a share of (llm_footprint.plan), so on one
# machine a measurement never overlaps another job of the workflow.
rule measure_energy:
    input:
        model=PLAN.paths.model(),
        checkpoint=PLAN.paths.checkpoint(),
        schedule=PLAN.paths.schedule,
    output:
        measurement=directory(PLAN.paths.energy()),
    log:
        PLAN.paths.log("measure_energy", "{model}", "{variant}", "{setup}"),
    conda:
        "../../envs/energy.yaml"
    threads: PLAN.threads_of("measure_energy")
    resources:
        **PLAN.resources("measure_energy"),
    params:
        energy=PLAN.replay_params,
        setup=setup_spec,
        study=PLAN.study.name,
    script:
        "../scripts/measure_energy.py"


rule energy_table:
    input:
        measurements=PLAN.energy_dirs(),
    output:
        table=report(
            PLAN.paths.table("energy"),
            caption="../report/energy.rst",
            category="Energy",
        ),
    log:
        PLAN.paths.log("energy_table"),
    localrule: True
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/energy_table.py"


# The scenarios beside the replay (energy.scenarios): the same tracker and checks, the same
# exclusive use of the machine.
rule measure_scenario:
    input:
        model=PLAN.paths.model(),
        checkpoint=PLAN.paths.checkpoint(),
        schedule=PLAN.paths.schedule,
    output:
        measurement=directory(PLAN.paths.scenario()),
    log:
        PLAN.paths.log(
            "measure_scenario", "{scenario}", "{model}", "{variant}", "{setup}"
        ),
    conda:
        "../../envs/energy.yaml"
    threads: PLAN.threads_of("measure_scenario")
    resources:
        **PLAN.resources("measure_scenario"),
    params:
        settings=scenario_params,
        setup=setup_spec,
        study=PLAN.study.name,
    script:
        "../scripts/measure_scenario.py"


rule scenario_table:
    input:
        measurements=scenario_dirs,
    output:
        table=report(
            PLAN.paths.table("{scenario}"),
            caption="../report/scenarios.rst",
            category="Energy",
            labels={"table": "{scenario}"},
        ),
    log:
        PLAN.paths.log("scenario_table", "{scenario}"),
    localrule: True
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/scenario_table.py"
