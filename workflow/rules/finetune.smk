# Li et al.'s transfer modes on the target classes (docs/paper.md section 9):
# gcnc.study.transfer.finetune, one job per source run (of the `finetune` studies and seeds) of the preset's
# `finetune` (no jobs without it).
FINETUNE = P.get("finetune", {})
FINETUNE_STUDIES = FINETUNE.get(
    "studies", [n for n, s in P["studies"].items() if s.get("task", "full") == "source"]
)
FINETUNE_RUNS = sorted(
    set(
        PLAN.run_id[
            PLAN.study.isin(FINETUNE_STUDIES)
            & (PLAN.task == "source")
            & PLAN.seed.isin(FINETUNE.get("seeds", PLAN.seed.unique()))
        ]
    )
    if FINETUNE
    else set()
)


localrules:
    collect_finetune,


rule finetune:
    input:
        final=f"{RES}/runs/{{run}}/final.pt",
        summary=f"{RES}/runs/{{run}}/summary.json",
        metrics=f"{RES}/runs/{{run}}/metrics.csv",
        data=run_data,
    output:
        f"{RES}/finetune/{{run}}.csv",
    log:
        f"logs/{PRESET}/finetune/{{run}}.log",
    benchmark:
        f"logs/{PRESET}/benchmark/finetune/{{run}}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=model_job_resource("mem_mb"),
        runtime=model_job_resource("runtime"),
        gpu=GPUS,
    params:
        spec=run_spec,
        finetune=FINETUNE,
        device=P["device"],
    script:
        "../scripts/finetune.py"


rule collect_finetune:
    input:
        runs=[f"{RES}/finetune/{r}.csv" for r in FINETUNE_RUNS],
        fewshot=f"{RES}/fewshot.csv",
    output:
        f"{RES}/finetune.csv",
    log:
        f"logs/{PRESET}/collect_finetune.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/collect_finetune.py"
