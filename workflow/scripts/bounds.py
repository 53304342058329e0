"""Rule bounds -> gcnc.bounds.bounds_table (Props. 4.1, 4.3, 5.1)."""

import pandas as pd

from gcnc.bounds import bounds_table
from gcnc.provenance import job_log

with job_log(snakemake.log[0]):
    table = bounds_table(
        pd.read_csv(snakemake.input.metrics),
        pd.read_csv(snakemake.input.class_metrics),
        pd.read_csv(snakemake.input.runs),
        pd.read_csv(snakemake.input.poincare),
        pd.read_csv(snakemake.input.fewshot),
        delta=snakemake.params.bounds["delta"],
    )
    table.to_csv(snakemake.output[0], index=False)
