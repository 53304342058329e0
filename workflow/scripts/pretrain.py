"""Rule pretrain -> gcnc.study.pretraining.pretrain.pretrain (resumes from the run's last
checkpoint), then the
records of its outputs (gcnc.study.results.records)."""

from pathlib import Path

import torch

from gcnc.study.constants import RESULT_NEUTRAL
from gcnc.study.data import load_prepared
from gcnc.study.grid import RunSpec
from gcnc.study.pretraining.pretrain import pretrain
from gcnc.study.results.provenance import job_log
from gcnc.study.results.records import record_outputs

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
