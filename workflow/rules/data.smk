# Dataset preparation (gcnc.study.data.prepare_dataset): data/prepared/<dataset>/{arrays.npz, meta.json}.


rule prepare_data:
    input:
        [DATA["checksum_manifest"]] if FABRICATE else [],
    output:
        arrays=f"{PREP}/{{dataset}}/arrays.npz",
        meta=f"{PREP}/{{dataset}}/meta.json",
    log:
        "logs/prepare_data/{dataset}.log",
    conda:
        CONDA_ENV
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        spec=dataset_spec,
        data=DATA,
    script:
        "../scripts/prepare_data.py"


rule prepare_all_data:
    input:
        [f for d in DATASETS for f in prepared(d)],


rule fabricate_raw:
    """Small files in the genuine formats of the preset's `data.fabricate` kinds (paper_mini)."""
    output:
        DATA.get("checksum_manifest") or "fabricate_raw.unused",
    log:
        f"logs/{PRESET}/fabricate_raw.log",
    conda:
        CONDA_ENV
    params:
        kinds=FABRICATE,
        raw_dir=DATA["raw_dir"],
    script:
        "../scripts/fabricate_raw.py"
