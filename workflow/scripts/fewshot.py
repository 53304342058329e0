"""Rule fewshot -> gcnc.study.transfer.fewshot.evaluate_transfer for every source run of one
dataset, on the
preset's device (the target data and episodes loaded once)."""

from pathlib import Path

import pandas as pd

from gcnc.study.data import load_prepared
from gcnc.study.grid import RunSpec
from gcnc.study.pretraining.sgd import load_pretrained
from gcnc.study.results.provenance import job_log
from gcnc.study.results.records import read_json, verify_all, write_table
from gcnc.study.transfer.fewshot import evaluate_transfer, load_episodes

with job_log(snakemake.log[0]):
    verify_all(snakemake.input)
    data = load_prepared(Path(snakemake.input.data[0]).parent)
    episodes = load_episodes(snakemake.input.episodes)
    runs = zip(
        snakemake.params.specs,
        snakemake.input.final,
        snakemake.input.summary,
        snakemake.input.metrics,
        strict=True,
    )
    tables = []
    for i, (spec_dict, final, summary, metrics) in enumerate(runs, 1):
        spec = RunSpec(**spec_dict)
        print(f"run {i}/{len(snakemake.params.specs)}: {spec.run_id}", flush=True)
        model = load_pretrained(spec, data, final, snakemake.params.device)
        status = read_json(summary)["status"]
        table = evaluate_transfer(
            model,
            spec,
            data,
            episodes,
            snakemake.params.fewshot,
            snakemake.params.metrics,
            snakemake.params.eval_examples,
            metrics,
            status,
        )
        tables.append(table)
    write_table(pd.concat(tables, ignore_index=True), snakemake.output[0], snakemake.input)
