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


# One job per (model, variant, setup) measures everything: the model is loaded, warmed up and
# idles once, then the timed replay and each scenario (energy.scenarios) run on it, each output
# written as soon as it is done (llm_footprint.energy.tuple_job). Energy runs spoil each other's
# measurement: each takes the whole `energy_exclusive` capacity, which every other heavy job
# needs a share of (llm_footprint.plan), so on one machine a measurement never overlaps
# another job of the workflow.
rule measure_energy:
    input:
        model=PLAN.paths.model(),
        checkpoint=PLAN.paths.checkpoint(),
        schedule=PLAN.paths.schedule,
    output:
        **{
            name: directory(pattern)
            for name, pattern in PLAN.scenario_outputs().items()
        },
        measurement=directory(PLAN.paths.energy()),
    log:
        PLAN.paths.log("measure_energy", "{model}", "{variant}", "{setup}"),
    priority: PLAN.priority_of("measure_energy")
    conda:
        "../../envs/energy.yaml"
    threads: PLAN.threads_of("measure_energy")
    resources:
        **PLAN.resources("measure_energy"),
    params:
        settings=PLAN.measurement_params(PLAN.scenarios),
        scenarios=PLAN.scenarios,
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


# Each scenario's table, from the folders the tuples' measure_energy jobs wrote.
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
