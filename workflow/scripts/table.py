"""Rule table -> gcnc.figures.render_table, then the provenance sidecar."""

from gcnc.figures import render_table
from gcnc.provenance import job_log, write_sidecar
from gcnc.records import verify_all
from gcnc.report_html import markdown_to_html

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
