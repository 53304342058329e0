"""Rule poincare -> gcnc.poincare.poincare_table (diverged runs of runs.csv left out)."""

from pathlib import Path

import pandas as pd

from gcnc.poincare import poincare_table
from gcnc.provenance import job_log

with job_log(snakemake.log[0]):
    table = poincare_table(
        pd.read_csv(snakemake.input.metrics),
        pd.read_csv(snakemake.input.class_metrics),
        {Path(p).parent.name: Path(p).parent for p in snakemake.input.data},
        snakemake.params.poincare,
        runs=pd.read_csv(snakemake.input.runs),
    )
    table.to_csv(snakemake.output[0], index=False)
