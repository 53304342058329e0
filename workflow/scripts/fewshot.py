"""Rule fewshot -> gcnc.fewshot.evaluate_transfer for one pretrained run, on the preset's device."""

import json
from pathlib import Path

from gcnc.config import RunSpec
from gcnc.data import load_prepared
from gcnc.fewshot import evaluate_transfer, load_episodes
from gcnc.provenance import job_log
from gcnc.training import load_pretrained

with job_log(snakemake.log[0]):
    spec = RunSpec(**snakemake.params.spec)
    data = load_prepared(Path(snakemake.input.data[0]).parent)
    model = load_pretrained(spec, data, snakemake.input.final, snakemake.params.device)
    status = json.loads(Path(snakemake.input.summary).read_text())["status"]
    table = evaluate_transfer(
        model,
        spec,
        data,
        load_episodes(snakemake.input.episodes),
        snakemake.params.fewshot,
        snakemake.params.metrics,
        snakemake.params.eval_examples,
        snakemake.input.metrics,
        status,
    )
    table.to_csv(snakemake.output[0], index=False)
