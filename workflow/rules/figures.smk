# Every figure and table of the paper (gcnc.figures), the claims report (gcnc.claims), each with a
# provenance sidecar (gcnc.provenance). The plan of what to draw comes from the preset's studies.
from gcnc.figures import figure_plan, table_plan

FIGURES = figure_plan(config, PRESET)
TABLES = table_plan(config, PRESET)
TABLE_INPUTS = {
    "table_poincare": [f"{RES}/poincare.csv"],
    "table_bounds": [f"{RES}/bounds.csv"],
}
SECTION_INPUTS = {
    "sweep": [f"{RES}/metrics.csv", f"{RES}/runs.csv"],
    "learning_curves": [f"{RES}/metrics.csv", f"{RES}/runs.csv"],
    "gc_sampling": [f"{RES}/gc_sampling.csv"],
    "bound": [f"{RES}/bounds.csv"],
    "transfer": [f"{RES}/fewshot.csv"],
}
FIGURE_TARGETS = [
    f"{FIGS}/{name}.{ext}" for name in FIGURES for ext in ("pdf", "png", "csv", "prov.json")
] + [f"{FIGS}/{name}.{ext}" for name in TABLES for ext in ("csv", "md", "prov.json")]
ALL_UPSTREAM = run_upstream(RUNS, POINCARE_DATASETS)


def figure_upstream(wildcards):
    """The runs a figure draws (Fig. 2: its one model) and their data, for its sidecar."""
    plan = FIGURES[wildcards.figure]
    if plan["kind"] == "gc_sampling":
        return run_upstream([gc_sampling_run()])
    return run_upstream([r["run_id"] for r in plan["runs"]])


rule figure:
    wildcard_constraints:
        figure="|".join(FIGURES),
    input:
        tables=lambda wc: SECTION_INPUTS[FIGURES[wc.figure]["kind"]],
        upstream=figure_upstream,
    output:
        pdf=report(
            f"{FIGS}/{{figure}}.pdf",
            caption="../report/figure.rst",
            category=lambda wc: FIGURES[wc.figure]["section"],
            subcategory="{figure}",
        ),
        png=f"{FIGS}/{{figure}}.png",
        csv=f"{FIGS}/{{figure}}.csv",
        prov=f"{FIGS}/{{figure}}.prov.json",
    params:
        plan=lambda wc: FIGURES[wc.figure],
        preset=PRESET,
        config_sha256=PRESET_CONFIG_SHA256,
    log:
        f"logs/{PRESET}/figure/{{figure}}.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/figure.py"


rule table:
    wildcard_constraints:
        table="|".join(TABLES),
    input:
        tables=lambda wc: TABLE_INPUTS[wc.table],
        upstream=ALL_UPSTREAM,
    output:
        csv=report(f"{FIGS}/{{table}}.csv", caption="../report/table.rst", category="Tables"),
        md=f"{FIGS}/{{table}}.md",
        prov=f"{FIGS}/{{table}}.prov.json",
    params:
        plan=lambda wc: TABLES[wc.table],
        preset=PRESET,
        config_sha256=PRESET_CONFIG_SHA256,
    log:
        f"logs/{PRESET}/table/{{table}}.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/table.py"


rule claims:
    input:
        metrics=f"{RES}/metrics.csv",
        runs=f"{RES}/runs.csv",
        gc_sampling=f"{RES}/gc_sampling.csv",
        bounds=f"{RES}/bounds.csv",
        fewshot=f"{RES}/fewshot.csv",
        plan=f"{RES}/plan.csv",
        upstream=ALL_UPSTREAM,
    output:
        md=report(f"{FIGS}/claims.md", caption="../report/claims.rst", category="Claims"),
        csv=f"{FIGS}/claims.csv",
        prov=f"{FIGS}/claims.prov.json",
    params:
        claims=P["claims"],
        gc_sampling_run=gc_sampling_run(),
        preset=PRESET,
        config_sha256=PRESET_CONFIG_SHA256,
    log:
        f"logs/{PRESET}/claims.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/claims.py"
