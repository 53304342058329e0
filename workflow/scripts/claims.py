"""Rule claims -> gcnc.study.claims.claims_report, then the provenance sidecar."""

from gcnc.study.claims.report import claims_report
from gcnc.study.publish.report_html import markdown_to_html
from gcnc.study.results.provenance import job_log, write_sidecar
from gcnc.study.results.records import read_table, verify_all

with job_log(snakemake.log[0]):
    out = snakemake.output
    tables = {k: v for k, v in snakemake.input.items() if k != "upstream"}
    verify_all(snakemake.input.upstream)
    for path in tables.values():  # checked (record, torn rows) before gcnc.study.claims reads them
        read_table(path)
    claims_report(
        tables,
        snakemake.params.claims,
        snakemake.params.gc_sampling_run,
        snakemake.params.preset,
        out.md,
        out.csv,
    )
    markdown_to_html(out.md, out.html, f"Claims of the paper, preset {snakemake.params.preset}")
    write_sidecar(
        [out.md, out.csv, out.html],
        tables.values(),
        snakemake.input.upstream,
        preset=snakemake.params.preset,
        config_sha256=snakemake.params.config_sha256,
        function=claims_report,
        rule="claims",
        path=out.prov,
    )
