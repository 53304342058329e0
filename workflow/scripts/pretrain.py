"""Rule pretrain -> gcnc.training.pretrain (resumes from the run's last checkpoint), then the
records of its outputs (gcnc.records)."""

from pathlib import Path

import torch

from gcnc.config import RunSpec
from gcnc.data import load_prepared
from gcnc.provenance import job_log
from gcnc.records import record_outputs
from gcnc.training import pretrain

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
    record_outputs(snakemake.output, snakemake.input)
