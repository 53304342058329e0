"""Rule poincare -> gcnc.poincare.poincare_table (diverged runs of runs.csv left out)."""

from pathlib import Path

import pandas as pd
from threadpoolctl import threadpool_limits

from gcnc.poincare import poincare_table
from gcnc.provenance import job_log

# BLAS threads = the job's threads: two oversubscribed jobs made it 15x slower (BENCHMARKS.md)
with job_log(snakemake.log[0]), threadpool_limits(snakemake.threads):
    table = poincare_table(
        pd.read_csv(snakemake.input.metrics),
        pd.read_csv(snakemake.input.class_metrics),
        {Path(p).parent.name: Path(p).parent for p in snakemake.input.data},
        snakemake.params.poincare,
        runs=pd.read_csv(snakemake.input.runs),
    )
    table.to_csv(snakemake.output[0], index=False)
