"""Rule fewshot_episodes -> gcnc.study.transfer.fewshot.sample_episodes (shared by every model:
paired)."""

from pathlib import Path

from gcnc.study.data import load_prepared
from gcnc.study.results.provenance import job_log
from gcnc.study.results.records import record_outputs
from gcnc.study.transfer.fewshot import sample_episodes, save_episodes

with job_log(snakemake.log[0]):
    data = load_prepared(Path(snakemake.input[0]).parent)
    labels = data.view("target", "all").y.numpy()
    save_episodes(snakemake.output[0], sample_episodes(labels, snakemake.params.fewshot))
    record_outputs(snakemake.output, snakemake.input)
