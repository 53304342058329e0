"""Rule collect_metrics -> gcnc.study.results.collect.collect_runs: one tidy table per preset."""

from gcnc.study.results.collect import collect_runs
from gcnc.study.results.provenance import job_log

with job_log(snakemake.log[0]):
    collect_runs(dict(snakemake.input.items()), dict(snakemake.output.items()))
