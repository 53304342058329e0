"""Rule fabricate_raw -> gcnc.study.data.fabricate.fabricate_raw (small genuine-format raw
files)."""

from pathlib import Path

from gcnc.study.data.fabricate import fabricate_raw
from gcnc.study.results.provenance import job_log

with job_log(snakemake.log[0]):
    manifest = fabricate_raw(snakemake.params.raw_dir, snakemake.params.kinds)
    if Path(manifest).resolve() != Path(snakemake.output[0]).resolve():
        raise ValueError(
            f"fabricate_raw wrote its manifest to {manifest}, but the preset's "
            f"data.checksum_manifest is {snakemake.output[0]}: make them the same path"
        )
    print(f"fabricated {snakemake.params.kinds} under {snakemake.params.raw_dir}")
