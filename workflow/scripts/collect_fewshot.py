"""Rule collect_fewshot: concatenate the per-dataset transfer tables."""

import pandas as pd

from gcnc.provenance import job_log

with job_log(snakemake.log[0]):
    frames = [pd.read_csv(p) for p in snakemake.input]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["run_id"])
    table.to_csv(snakemake.output[0], index=False)
