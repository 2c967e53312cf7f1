# llm-footprint: what compressing an LLM does to its quality, inference energy and carbon
# footprint. The embedded demo study (config.yaml) runs offline on a CPU; other studies live
# in configs/ (snakemake --configfile configs/thesis.yaml).
from snakemake.utils import min_version

min_version("9.0")


# The demo study, unless a study is given with --configfile: that one replaces it rather than
# being merged into it.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


include: "workflow/rules/common.smk"


# The front page: the study's summary, recommendation and footprint once the front_page rule
# has written them from the tables (a report made before that shows the introduction alone).
report: PLAN.report_front_page(workflow.basedir)


# energy_exclusive keeps measurements apart on one machine; it must not throttle cluster
# submissions across nodes
resource_scopes:
    energy_exclusive="local",


wildcard_constraints:
    model=PLAN.wildcard_pattern("model"),
    variant=PLAN.wildcard_pattern("variant"),
    setup=PLAN.wildcard_pattern("setup"),
    scenario=PLAN.wildcard_pattern("scenario"),
    step=PLAN.wildcard_pattern("step"),


if PLAN.imported:

    include: "workflow/rules/imported.smk"

else:

    include: "workflow/rules/models.smk"
    include: "workflow/rules/prefetch.smk"
    include: "workflow/rules/compress.smk"
    include: "workflow/rules/quality.smk"
    include: "workflow/rules/energy.smk"


include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        PLAN.all_targets(),
