# Every figure and table of the paper (gcnc.study.figures) and the claims report
# (gcnc.study.claims), each with a provenance sidecar (gcnc.study.results.provenance). The plan of
# what to draw comes from the preset's studies.
from gcnc.study.figures import figure_plan, table_plan

FIGURES = figure_plan(config, PRESET, PLAN)
TABLES = table_plan(config, PRESET)
TABLE_INPUTS = {
    "table_terminal_phase": [f"{RES}/metrics.csv", f"{RES}/plan.csv"],
    "table_poincare": [f"{RES}/poincare.csv"],
    "table_bounds": [f"{RES}/bounds.csv"],
}
SECTION_INPUTS = {
    "sweep": [f"{RES}/metrics.csv", f"{RES}/runs.csv"],
    "controls": [f"{RES}/metrics.csv", f"{RES}/runs.csv"],
    "learning_curves": [f"{RES}/metrics.csv", f"{RES}/runs.csv"],
    "gc_sampling": [f"{RES}/gc_sampling.csv"],
    "bound": [f"{RES}/bounds.csv"],
    "transfer": [f"{RES}/fewshot.csv"],
    "finetune": [f"{RES}/finetune.csv"],
}
ALL_UPSTREAM = run_upstream(RUNS, POINCARE_DATASETS)


rule figure:
    input:
        tables=figure_tables,
        upstream=figure_upstream,
    output:
        pdf=f"{FIGS}/{{figure}}.pdf",
        png=f"{FIGS}/{{figure}}.png",
        csv=f"{FIGS}/{{figure}}.csv",
        prov=f"{FIGS}/{{figure}}.prov.json",
    log:
        f"logs/{PRESET}/figure/{{figure}}.log",
    wildcard_constraints:
        figure="|".join(FIGURES),
    conda:
        CONDA_ENV
    params:
        plan=lambda wc: FIGURES[wc.figure],
        preset=PRESET,
        config_sha256=PRESET_CONFIG_SHA256,
    script:
        "../scripts/figure.py"


rule table:
    input:
        tables=table_tables,
        upstream=ALL_UPSTREAM,
    output:
        csv=f"{FIGS}/{{table}}.csv",
        md=f"{FIGS}/{{table}}.md",
        html=f"{FIGS}/{{table}}.html",
        prov=f"{FIGS}/{{table}}.prov.json",
    log:
        f"logs/{PRESET}/table/{{table}}.log",
    wildcard_constraints:
        table="|".join(TABLES),
    conda:
        CONDA_ENV
    params:
        plan=lambda wc: TABLES[wc.table],
        preset=PRESET,
        config_sha256=PRESET_CONFIG_SHA256,
    script:
        "../scripts/table.py"


rule claims:
    input:
        **({"finetune": f"{RES}/finetune.csv"} if FINETUNE_RUNS else {}),
        metrics=f"{RES}/metrics.csv",
        runs=f"{RES}/runs.csv",
        gc_sampling=f"{RES}/gc_sampling.csv",
        bounds=f"{RES}/bounds.csv",
        poincare=f"{RES}/poincare.csv",
        fewshot=f"{RES}/fewshot.csv",
        plan=f"{RES}/plan.csv",
        upstream=ALL_UPSTREAM,
    output:
        md=f"{FIGS}/claims.md",
        html=f"{FIGS}/claims.html",
        csv=f"{FIGS}/claims.csv",
        prov=f"{FIGS}/claims.prov.json",
    log:
        f"logs/{PRESET}/claims.log",
    conda:
        CONDA_ENV
    params:
        claims=P["claims"],
        gc_sampling_run=gc_sampling_run(),
        preset=PRESET,
        config_sha256=PRESET_CONFIG_SHA256,
    script:
        "../scripts/claims.py"
