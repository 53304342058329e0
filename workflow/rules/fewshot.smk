# Few-shot transfer on unseen target classes (Section 5, Fig. 4): gcnc.fewshot.


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


rule fewshot:
    input:
        final=f"{RES}/runs/{{run}}/final.pt",
        summary=f"{RES}/runs/{{run}}/summary.json",
        metrics=f"{RES}/runs/{{run}}/metrics.csv",
        data=run_data,
        episodes=run_episodes,
    output:
        f"{RES}/fewshot/{{run}}.csv",
    log:
        f"logs/{PRESET}/fewshot/{{run}}.log",
    benchmark:
        f"logs/{PRESET}/benchmark/fewshot/{{run}}.tsv"
    conda:
        CONDA_ENV
    resources:
        mem_mb=model_job_resource("mem_mb"),
        runtime=model_job_resource("runtime"),
        gpu=GPUS,
    params:
        spec=run_spec,
        fewshot=P["fewshot"],
        metrics=P["metrics"],
        eval_examples=P["training"]["eval_examples"],
        device=P["device"],
    script:
        "../scripts/fewshot.py"


rule collect_fewshot:
    input:
        [f"{RES}/fewshot/{r}.csv" for r in SOURCE_RUNS],
    output:
        f"{RES}/fewshot.csv",
    log:
        f"logs/{PRESET}/collect_fewshot.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/collect_fewshot.py"
