# Stage 1: compressed checkpoints under results/checkpoints/{model}/{variant}/, one rule for
# every method (llm_footprint.compression): the variant's method decides what runs, where, and
# with which resources.


rule compress:
    input:
        unpack(compress_input),
    output:
        checkpoint=directory(PLAN.paths.checkpoint()),
    params:
        variant=variant_spec,
        device=PLAN.default_device,
    threads: PLAN.threads_of("compress")
    resources:
        **PLAN.resources("compress"),
    log:
        PLAN.paths.log("compress", "{model}", "{variant}"),
    conda:
        "../../envs/quantize.yaml"
    script:
        "../scripts/compress.py"


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
