"""Rule finetune -> gcnc.study.transfer.finetune.transfer_table for one pretrained source run (Li
et al.'s
transfer modes on the target classes), on the preset's device."""

from pathlib import Path

import torch

from gcnc.study.data import load_prepared
from gcnc.study.grid import RunSpec
from gcnc.study.pretraining.sgd import load_pretrained
from gcnc.study.results.provenance import job_log
from gcnc.study.results.records import read_json, verify_all, write_table
from gcnc.study.transfer.finetune import transfer_table

with job_log(snakemake.log[0]):
    verify_all(snakemake.input)
    torch.set_num_threads(snakemake.threads)
    spec = RunSpec(**snakemake.params.spec)
    data = load_prepared(Path(snakemake.input.data[0]).parent)
    model = load_pretrained(spec, data, snakemake.input.final, snakemake.params.device)
    status = read_json(snakemake.input.summary)["status"]
    table = transfer_table(
        model, spec, data, snakemake.params.finetune, snakemake.input.metrics, status
    )
    write_table(table, snakemake.output[0], snakemake.input)
