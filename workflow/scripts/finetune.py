"""Rule finetune -> gcnc.finetune.transfer_table for one pretrained source run (Li et al.'s
transfer modes on the target classes), on the preset's device."""

import json
from pathlib import Path

import torch

from gcnc.config import RunSpec
from gcnc.data import load_prepared
from gcnc.finetune import transfer_table
from gcnc.provenance import job_log
from gcnc.training import load_pretrained

with job_log(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    spec = RunSpec(**snakemake.params.spec)
    data = load_prepared(Path(snakemake.input.data[0]).parent)
    model = load_pretrained(spec, data, snakemake.input.final, snakemake.params.device)
    status = json.loads(Path(snakemake.input.summary).read_text())["status"]
    table = transfer_table(
        model, spec, data, snakemake.params.finetune, snakemake.input.metrics, status
    )
    table.to_csv(snakemake.output[0], index=False)
