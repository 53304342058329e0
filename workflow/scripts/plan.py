"""Rule plan -> gcnc.plan.run_plan (computed once when the workflow is parsed): plan.csv."""

import pandas as pd

from gcnc.plan import PLAN_COLUMNS
from gcnc.provenance import job_log

with job_log(snakemake.log[0]):
    plan = pd.DataFrame(snakemake.params.plan, columns=PLAN_COLUMNS)
    plan.to_csv(snakemake.output[0], index=False)
