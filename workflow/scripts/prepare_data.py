"""Rule prepare_data -> gcnc.study.data.prepare_dataset."""

from pathlib import Path

from gcnc.study.data import prepare_dataset
from gcnc.study.results.provenance import job_log

with job_log(snakemake.log[0]):
    config = {
        "data": snakemake.params.data,
        "datasets": {snakemake.wildcards.dataset: snakemake.params.spec},
    }
    meta = prepare_dataset(snakemake.wildcards.dataset, config, Path(snakemake.output.meta).parent)
    print({k: meta[k] for k in ("name", "kind", "n_classes", "input_shape", "sizes")})
