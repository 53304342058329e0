"""Rule collect_metrics -> gcnc.tables.collect_runs: one tidy table per preset."""

from gcnc.provenance import job_log
from gcnc.tables import collect_runs

with job_log(snakemake.log[0]):
    collect_runs(dict(snakemake.input.items()), dict(snakemake.output.items()))
