"""Rule table -> gcnc.study.figures.render_table, then the provenance sidecar."""

from gcnc.study.figures import render_table
from gcnc.study.publish.report_html import markdown_to_html
from gcnc.study.results.provenance import job_log, write_sidecar
from gcnc.study.results.records import verify_all

with job_log(snakemake.log[0]):
    verify_all(snakemake.input)  # every table and run it draws: refused by name if damaged
    out = snakemake.output
    render_table(snakemake.params.plan, list(snakemake.input.tables), out.csv, out.md)
    markdown_to_html(out.md, out.html, snakemake.wildcards.table)
    write_sidecar(
        [out.csv, out.md, out.html],
        snakemake.input.tables,
        snakemake.input.upstream,
        preset=snakemake.params.preset,
        config_sha256=snakemake.params.config_sha256,
        function=render_table,
        rule="table",
        path=out.prov,
    )
