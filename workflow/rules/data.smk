# Dataset preparation (gcnc.data.prepare_dataset): data/prepared/<dataset>/{arrays.npz, meta.json}.


rule prepare_data:
    output:
        arrays=f"{PREP}/{{dataset}}/arrays.npz",
        meta=f"{PREP}/{{dataset}}/meta.json",
    params:
        spec=lambda wc: config["datasets"][wc.dataset],
        data=config["data"],
    log:
        "logs/prepare_data/{dataset}.log",
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        CONDA_ENV
    script:
        "../scripts/prepare_data.py"


rule prepare_all_data:
    input:
        [f for d in DATASETS for f in prepared(d)],
