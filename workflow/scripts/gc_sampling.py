"""Rule gc_sampling -> gcnc.gc_sampling.sampling_study (Fig. 2 data), on the preset's device."""

from pathlib import Path

import torch

from gcnc.config import RunSpec
from gcnc.data import load_prepared
from gcnc.gc_sampling import sampling_study
from gcnc.provenance import job_log
from gcnc.training import model_for, resolve_device

with job_log(snakemake.log[0]):
    spec = RunSpec(**snakemake.params.spec)
    data = load_prepared(Path(snakemake.input.data[0]).parent)
    device = resolve_device(snakemake.params.device)
    model = model_for(spec, data).to(device)
    model.load_state_dict(torch.load(snakemake.input.final, map_location="cpu", weights_only=True))
    print(f"device: {device}", flush=True)
    table = sampling_study(model, data.view(spec.task, "train"), snakemake.params.sampling)
    table.to_csv(snakemake.output[0], index=False)
