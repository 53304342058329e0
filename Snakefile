# The study's one DAG. Run from the repository root:
#   snakemake --cores 2                      # the preset named in params.yaml (quick)
#   snakemake --cores 2 --config preset=smoke
#   snakemake -n --config preset=paper       # plan the paper's full grid
# Rules are thin: each calls one function of the `gcnc` package (src/gcnc).

from snakemake.utils import min_version

min_version("9.27")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/fewshot.smk"
include: "workflow/rules/finetune.smk"
include: "workflow/rules/figures.smk"


# Tiny aggregation and rendering jobs run on the submitting host, even under a cluster executor:
# no scheduler round trip each (see profiles/slurm).
localrules:
    all,
    plan,
    prepare_all_data,
    collect_metrics,
    collect_fewshot,
    fewshot_episodes,
    bounds,
    figure,
    table,
    claims,


# Every file of the DAG, not only the figures: Snakemake rebuilds a missing intermediate file
# only when a target asks for it, so after a damaged result is deleted (as its error says), the
# rerun would otherwise find the figures up to date and leave the hole ("Nothing to be done").
rule all:
    default_target: True
    input:
        expand(rules.prepare_data.output, dataset=POINCARE_DATASETS),
        rules.fabricate_raw.output if FABRICATE else [],
        rules.plan.output,
        expand(rules.pretrain.output, run=sorted(RUNS)),
        rules.collect_metrics.output,
        expand(rules.fewshot_episodes.output, dataset=SOURCE_DATASETS),
        expand(rules.fewshot.output, dataset=SOURCE_DATASETS),
        rules.collect_fewshot.output,
        expand(rules.finetune.output, run=FINETUNE_RUNS),
        rules.collect_finetune.output if FINETUNE_RUNS else [],
        rules.gc_sampling.output,
        rules.poincare.output,
        rules.bounds.output,
        expand(rules.figure.output, figure=FIGURES),
        expand(rules.table.output, table=TABLES),
        rules.claims.output,


# `make run` ends with the verdicts and where everything is (gcnc.study.claims.console_summary).
onsuccess:
    import os
    import sys
    from gcnc.study.claims.report import console_summary

    if os.path.exists(f"{FIGS}/claims.csv") and not workflow.dryrun:
        summary = console_summary(f"{FIGS}/claims.csv", f"{RES}/plan.csv", FIGS, PRESET)
        print(f"\n{summary}", file=sys.stderr)
