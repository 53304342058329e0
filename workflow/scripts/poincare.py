"""Rule poincare -> gcnc.study.theory.poincare.poincare_table (diverged runs of runs.csv left
out)."""

from pathlib import Path

from threadpoolctl import threadpool_limits

from gcnc.study.results.provenance import job_log
from gcnc.study.results.records import read_table, write_table
from gcnc.study.theory.poincare import poincare_table

# BLAS threads = the job's threads: two oversubscribed jobs made it 15x slower (BENCHMARKS.md)
with job_log(snakemake.log[0]), threadpool_limits(snakemake.threads):
    table = poincare_table(
        read_table(snakemake.input.metrics),
        read_table(snakemake.input.class_metrics),
        {Path(p).parent.name: Path(p).parent for p in snakemake.input.data},
        snakemake.params.poincare,
        runs=read_table(snakemake.input.runs),
    )
    write_table(table, snakemake.output[0], snakemake.input)
