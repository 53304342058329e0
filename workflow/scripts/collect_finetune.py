"""Rule collect_finetune: concatenate the per-run transfer tables and add the runs' few-shot
episodes as modes fewshot_ncm / fewshot_logreg (gcnc.study.transfer.finetune.fewshot_rows)."""

import pandas as pd

from gcnc.study.results.provenance import job_log
from gcnc.study.results.records import read_table, write_table
from gcnc.study.transfer.finetune import fewshot_rows

with job_log(snakemake.log[0]):
    frames = [read_table(p) for p in snakemake.input.runs]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["run_id"])
    extra = fewshot_rows(read_table(snakemake.input.fewshot), table)
    table = pd.concat([table, extra], ignore_index=True) if len(extra) else table
    write_table(table, snakemake.output[0], snakemake.input)
