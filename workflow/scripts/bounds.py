"""Rule bounds -> gcnc.bounds.bounds_table (Props. 4.1, 4.3, 5.1)."""

from gcnc.bounds import bounds_table
from gcnc.provenance import job_log
from gcnc.records import read_table, write_table

with job_log(snakemake.log[0]):
    inputs = snakemake.input
    table = bounds_table(
        read_table(inputs.metrics),
        read_table(inputs.class_metrics),
        read_table(inputs.runs),
        read_table(inputs.poincare),
        read_table(inputs.fewshot),
        delta=snakemake.params.bounds["delta"],
    )
    write_table(table, snakemake.output[0], inputs)
