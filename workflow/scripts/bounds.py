"""Rule bounds -> gcnc.study.theory.bounds.bounds_table (Props. 4.1, 4.3, 5.1)."""

from gcnc.study.results.provenance import job_log
from gcnc.study.results.records import read_table, write_table
from gcnc.study.theory.bounds import bounds_table

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
