"""Rule plan -> gcnc.study.plan.run_plan (computed once when the workflow is parsed): plan.csv."""

import pandas as pd

from gcnc.study.plan import PLAN_COLUMNS
from gcnc.study.results.provenance import job_log
from gcnc.study.results.records import write_table

with job_log(snakemake.log[0]):
    plan = pd.DataFrame(snakemake.params.plan, columns=PLAN_COLUMNS)
    write_table(plan, snakemake.output[0], snakemake.input)
