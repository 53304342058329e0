"""Rule collect_fewshot: concatenate the per-dataset transfer tables."""

import pandas as pd

from gcnc.study.results.provenance import job_log
from gcnc.study.results.records import read_table, write_table

with job_log(snakemake.log[0]):
    frames = [read_table(p) for p in snakemake.input]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["run_id"])
    write_table(table, snakemake.output[0], snakemake.input)
