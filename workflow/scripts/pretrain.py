"""Rule pretrain -> gcnc.pretrain.pretrain (resumes from the run's last checkpoint), then the
records of its outputs (gcnc.records)."""

from pathlib import Path

import torch

from gcnc.config import RunSpec
from gcnc.constants import RESULT_NEUTRAL
from gcnc.data import load_prepared
from gcnc.pretrain import pretrain
from gcnc.provenance import job_log
from gcnc.records import record_outputs

with job_log(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    spec = RunSpec(**snakemake.params.spec)
    data = load_prepared(Path(snakemake.input[0]).parent)
    # checkpointing is not a param (changing it reruns nothing): read from the config
    settings = snakemake.config["presets"][snakemake.config["preset"]]["training"]
    neutral = {k: settings[k] for k in RESULT_NEUTRAL if k in settings}
    preset = {
        "training": {**snakemake.params.training, **neutral},
        "metrics": snakemake.params.metrics,
        "device": snakemake.params.device,
    }
    print(pretrain(spec, data, preset, Path(snakemake.output.metrics).parent))
    record_outputs(snakemake.output, snakemake.input)
