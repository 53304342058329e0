"""Rule finetune -> gcnc.finetune.transfer_table for one pretrained source run (Li et al.'s
transfer modes on the target classes), on the preset's device."""

from pathlib import Path

import torch

from gcnc.config import RunSpec
from gcnc.data import load_prepared
from gcnc.finetune import transfer_table
from gcnc.provenance import job_log
from gcnc.records import read_json, verify_all, write_table
from gcnc.training import load_pretrained

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
