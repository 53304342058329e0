# Few-shot transfer on unseen target classes (Section 5, Fig. 4): gcnc.study.transfer.fewshot.


rule fewshot_episodes:
    input:
        prepared("{dataset}"),
    output:
        f"{RES}/fewshot/episodes_{{dataset}}.npz",
    log:
        f"logs/{PRESET}/fewshot_episodes_{{dataset}}.log",
    conda:
        CONDA_ENV
    params:
        fewshot=P["fewshot"],
    script:
        "../scripts/fewshot_episodes.py"


# One job per dataset evaluates every source run pretrained on it: the target data and episodes
# are loaded once, and a job's start-up (about 4 s: Python, torch) is paid once, not per run.
rule fewshot:
    input:
        final=lambda wc: run_files(source_runs(wc.dataset), "final.pt"),
        summary=lambda wc: run_files(source_runs(wc.dataset), "summary.json"),
        metrics=lambda wc: run_files(source_runs(wc.dataset), "metrics.csv"),
        data=prepared("{dataset}"),
        episodes=f"{RES}/fewshot/episodes_{{dataset}}.npz",
    output:
        f"{RES}/fewshot/{{dataset}}.csv",
    log:
        f"logs/{PRESET}/fewshot/{{dataset}}.log",
    benchmark:
        f"logs/{PRESET}/benchmark/fewshot/{{dataset}}.tsv"
    conda:
        CONDA_ENV
    resources:
        mem_mb=model_job_resource("mem_mb"),
        runtime=lambda wc, attempt: model_job_resource("runtime")(wc, attempt)
        * len(source_runs(wc.dataset)),
        gpu=GPUS,
    params:
        specs=lambda wc: [RUNS[r].to_dict() for r in source_runs(wc.dataset)],
        fewshot=P["fewshot"],
        metrics=P["metrics"],
        eval_examples=P["training"]["eval_examples"],
        device=P["device"],
    script:
        "../scripts/fewshot.py"


rule collect_fewshot:
    input:
        [f"{RES}/fewshot/{d}.csv" for d in SOURCE_DATASETS],
    output:
        f"{RES}/fewshot.csv",
    log:
        f"logs/{PRESET}/collect_fewshot.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/collect_fewshot.py"
