"""Rule gc_sampling -> gcnc.gc_sampling.sampling_study (Fig. 2 data), on the preset's device.

The Fig. 2 model must have trained to the end: a diverged run (summary.json beside final.pt)
stops the job with an error naming the run and how to pick another.
"""

import json
from pathlib import Path

from gcnc.config import RunSpec
from gcnc.data import load_prepared
from gcnc.gc_sampling import sampling_study
from gcnc.provenance import job_log
from gcnc.training import load_pretrained

with job_log(snakemake.log[0]):
    spec = RunSpec(**snakemake.params.spec)
    summary_path = Path(snakemake.input.final).parent / "summary.json"
    try:
        summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RuntimeError(
            f"{summary_path} is not valid JSON ({err}): delete it and rerun (the pretrain rule "
            "rebuilds it from the run's last checkpoint)"
        ) from None
    if summary.get("status", "ok") != "ok":
        raise RuntimeError(
            f"the Fig. 2 model {spec.run_id} did not train to the end: status "
            f"'{summary['status']}' at step {summary.get('steps_done')} ({summary_path}). Its GC "
            "would describe a broken network. Point presets/<preset>/gc_sampling/study at another "
            "study, or list another seed first in that study's seeds (the base point of its first "
            "seed is used), or lower the study's base lr."
        )
    data = load_prepared(Path(snakemake.input.data[0]).parent)
    model = load_pretrained(spec, data, snakemake.input.final, snakemake.params.device)
    table = sampling_study(model, data.view(spec.task, "train"), snakemake.params.sampling)
    table.to_csv(snakemake.output[0], index=False)
