"""Rule fewshot_episodes -> gcnc.fewshot.sample_episodes (shared by every model: paired)."""

from pathlib import Path

from gcnc.data import load_prepared
from gcnc.fewshot import sample_episodes, save_episodes
from gcnc.provenance import job_log
from gcnc.records import record_outputs

with job_log(snakemake.log[0]):
    data = load_prepared(Path(snakemake.input[0]).parent)
    labels = data.view("target", "all").y.numpy()
    save_episodes(snakemake.output[0], sample_episodes(labels, snakemake.params.fewshot))
    record_outputs(snakemake.output, snakemake.input)
