"""Rule pretrain -> gcnc.pretrain.pretrain (resumes from the run's last checkpoint)."""

from pathlib import Path

import torch

from gcnc.config import RunSpec
from gcnc.data import load_prepared
from gcnc.pretrain import pretrain
from gcnc.provenance import job_log

with job_log(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    spec = RunSpec(**snakemake.params.spec)
    data = load_prepared(Path(snakemake.input[0]).parent)
    preset = {
        "training": snakemake.params.training,
        "metrics": snakemake.params.metrics,
        "device": snakemake.params.device,
    }
    print(pretrain(spec, data, preset, Path(snakemake.output.metrics).parent))
