rule plan:
    output:
        f"{RES}/plan.csv",
    log:
        f"logs/{PRESET}/plan.log",
    conda:
        CONDA_ENV
    params:
        plan=PLAN.to_dict("records"),  # rewritten only when the preset's grid changes
    script:
        "../scripts/plan.py"


# Pretraining grid (gcnc.study.pretraining.pretrain.pretrain): one job per run of the preset's studies.


rule pretrain:
    input:
        run_data,
    output:
        metrics=f"{RES}/runs/{{run}}/metrics.csv",
        class_metrics=f"{RES}/runs/{{run}}/class_metrics.csv",
        config=f"{RES}/runs/{{run}}/config.json",
        final=f"{RES}/runs/{{run}}/final.pt",
        summary=f"{RES}/runs/{{run}}/summary.json",
    log:
        f"logs/{PRESET}/pretrain/{{run}}.log",
    benchmark:
        f"logs/{PRESET}/benchmark/pretrain/{{run}}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=pretrain_resource("mem_mb"),
        runtime=pretrain_resource("runtime"),
        gpu=GPUS,
    params:
        spec=run_spec,
        # the training settings but the result-neutral ones (checkpointing): changing those reruns
        # no job (Snakemake reruns a job whose params changed); the job reads them from config
        training={k: v for k, v in P["training"].items() if k not in RESULT_NEUTRAL},
        metrics=P["metrics"],
        device=P["device"],
    script:
        "../scripts/pretrain.py"


rule collect_metrics:
    input:
        metrics=run_files(sorted(RUNS), "metrics.csv"),
        class_metrics=run_files(sorted(RUNS), "class_metrics.csv"),
        summaries=run_files(sorted(RUNS), "summary.json"),
        configs=run_files(sorted(RUNS), "config.json"),
    output:
        metrics=f"{RES}/metrics.csv",
        class_metrics=f"{RES}/class_metrics.csv",
        runs=f"{RES}/runs.csv",
    log:
        f"logs/{PRESET}/collect_metrics.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/collect_metrics.py"
