"""Rule finetune -> gcnc.finetune.transfer_table for one pretrained source run (Li et al.'s
transfer modes on the target classes), on the preset's device."""

import json
from pathlib import Path

import torch

from gcnc.checkpoints import load_weights
from gcnc.config import RunSpec
from gcnc.data import load_prepared
from gcnc.finetune import transfer_table
from gcnc.provenance import job_log
from gcnc.training import model_for, resolve_device

with job_log(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    spec = RunSpec(**snakemake.params.spec)
    data = load_prepared(Path(snakemake.input.data[0]).parent)
    device = resolve_device(snakemake.params.device)
    model = model_for(spec, data).to(device)
    model.load_state_dict(load_weights(snakemake.input.final))
    print(f"device: {device}", flush=True)
    status = json.loads(Path(snakemake.input.summary).read_text())["status"]
    table = transfer_table(
        model, spec, data, snakemake.params.finetune, snakemake.input.metrics, status
    )
    table.to_csv(snakemake.output[0], index=False)
