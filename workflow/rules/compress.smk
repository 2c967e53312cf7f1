# Stage 1: compressed checkpoints under results/checkpoints/{model}/{variant}/, one rule for
# every method (llm_footprint.compression): the variant's method decides what runs, where, and
# with which resources.


rule compress:
    input:
        unpack(compress_input),
    output:
        checkpoint=directory(PLAN.paths.checkpoint()),
        footprint=PLAN.paths.footprint("compress", "{model}", "{variant}"),
    log:
        PLAN.paths.log("compress", "{model}", "{variant}"),
    priority: PLAN.priority_of("compress")
    conda:
        "../../envs/quantize.yaml"
    threads: PLAN.threads_of("compress")
    resources:
        **PLAN.resources("compress"),
    params:
        variant=compress_spec,
        device=PLAN.default_device,
        footprint=PLAN.footprint_params,
    script:
        "../scripts/compress.py"


# The steps of a chain before its last one: each prefix of steps is one cached checkpoint,
# shared by every chain that starts with it (llm_footprint.compression.chains).
rule compress_step:
    input:
        unpack(step_input),
    output:
        checkpoint=directory(PLAN.paths.step()),
        footprint=PLAN.paths.footprint("compress_step", "{model}", "{step}"),
    log:
        PLAN.paths.log("compress_step", "{model}", "{step}"),
    priority: PLAN.priority_of("compress_step")
    conda:
        "../../envs/quantize.yaml"
    threads: PLAN.threads_of("compress_step")
    resources:
        **PLAN.resources("compress_step"),
    params:
        step=step_spec,
        device=PLAN.default_device,
        footprint=PLAN.footprint_params,
    script:
        "../scripts/compress_step.py"


rule compression_table:
    input:
        checkpoints=PLAN.checkpoint_dirs(),
    output:
        table=report(
            PLAN.paths.table("compression"),
            caption="../report/compression.rst",
            category="Compression",
        ),
    log:
        PLAN.paths.log("compression_table"),
    localrule: True
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/compression_table.py"
