"""Rule gc_sampling -> gcnc.study.theory.gc_sampling.sampling_study (Fig. 2 data), on the preset's
device.

The Fig. 2 model must have trained to the end: a diverged run (its summary.json) stops the job
with an error naming the run and how to pick another.
"""

from pathlib import Path

from gcnc.study.data import load_prepared
from gcnc.study.grid import RunSpec
from gcnc.study.pretraining.sgd import load_pretrained
from gcnc.study.results.provenance import job_log
from gcnc.study.results.records import read_json, verify_all, write_table
from gcnc.study.theory.gc_sampling import sampling_study

with job_log(snakemake.log[0]):
    verify_all(snakemake.input)
    spec = RunSpec(**snakemake.params.spec)
    summary = read_json(snakemake.input.summary)
    if summary.get("status", "ok") != "ok":
        raise RuntimeError(
            f"the Fig. 2 model {spec.run_id} did not train to the end: status "
            f"'{summary['status']}' at step {summary.get('steps_done')} "
            f"({snakemake.input.summary}). Its GC would describe a broken network. Point "
            "presets/<preset>/gc_sampling/study at another study, or list another seed first in "
            "that study's seeds (the base point of its first seed is used), or lower the study's "
            "base lr."
        )
    data = load_prepared(Path(snakemake.input.data[0]).parent)
    model = load_pretrained(spec, data, snakemake.input.final, snakemake.params.device)
    table = sampling_study(model, data.view(spec.task, "train"), snakemake.params.sampling)
    write_table(table, snakemake.output[0], snakemake.input)
