# Every figure and table of the paper (gcnc.figures), the claims report (gcnc.claims), each with a
# provenance sidecar (gcnc.provenance). The plan of what to draw comes from the preset's studies.
from gcnc.figures import figure_plan, table_plan
from gcnc.report_html import sidecar_labels

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
        # the report shows the PNG (a PDF shows in an iframe, blank in some browsers); labels
        # and caption name the commit read from the sidecar when the report is built
        png=report(
            f"{FIGS}/{{figure}}.png",
            caption="../report/figure.rst",
            category=lambda wc: FIGURES[wc.figure]["section"],
            subcategory=lambda wc: f"{wc.figure} - {FIGURES[wc.figure]['paper']}",
            labels=lambda wc, output: sidecar_labels(output.prov, wc.figure, "figure"),
        ),
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
        html=report(  # the report shows HTML inline (a CSV or Markdown file is downloaded)
            f"{FIGS}/{{table}}.html",
            caption="../report/table.rst",
            category="Tables",
            subcategory="{table}",
            labels=lambda wc, output: sidecar_labels(output.prov, wc.table, "table"),
        ),
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
        html=report(
            f"{FIGS}/claims.html",
            caption="../report/claims.rst",
            category="Claims",
            subcategory="claims",
            labels=lambda wc, output: sidecar_labels(output.prov, "claims", "claims"),
        ),
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
