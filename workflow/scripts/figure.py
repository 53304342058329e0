"""Rule figure -> gcnc.study.figures.render, then the provenance sidecar."""

from gcnc.study.figures import render, renderer
from gcnc.study.results.provenance import job_log, write_sidecar
from gcnc.study.results.records import verify_all

with job_log(snakemake.log[0]):
    verify_all(snakemake.input)  # every table and run it draws: refused by name if damaged
    out = snakemake.output
    caption = render(snakemake.params.plan, list(snakemake.input.tables), out.pdf, out.png, out.csv)
    write_sidecar(
        [out.pdf, out.png, out.csv],
        snakemake.input.tables,
        snakemake.input.upstream,
        preset=snakemake.params.preset,
        config_sha256=snakemake.params.config_sha256,
        function=renderer(snakemake.params.plan),  # the figure family's module
        rule="figure",
        path=out.prov,
        caption=caption,  # the plan's, with what the bands mean and what the data show
    )
