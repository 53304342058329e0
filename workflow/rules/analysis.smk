# GC sampling robustness (Fig. 2), Poincare constants (Section 4.1) and bounds (Props. 4.1, 4.3, 5.1).


rule gc_sampling:
    input:
        final=f"{RES}/runs/{gc_sampling_run()}/final.pt",
        summary=f"{RES}/runs/{gc_sampling_run()}/summary.json",
        data=prepared(RUNS[gc_sampling_run()].dataset),
    output:
        f"{RES}/gc_sampling.csv",
    log:
        f"logs/{PRESET}/gc_sampling.log",
    benchmark:
        f"logs/{PRESET}/benchmark/gc_sampling.tsv"
    conda:
        CONDA_ENV
    resources:
        mem_mb=model_job_resource("mem_mb"),
        runtime=model_job_resource("runtime"),
        gpu=GPUS,
    params:
        spec=RUNS[gc_sampling_run()].to_dict(),
        sampling=P["gc_sampling"],
        device=P["device"],
    script:
        "../scripts/gc_sampling.py"


rule poincare:
    input:
        metrics=f"{RES}/metrics.csv",
        class_metrics=f"{RES}/class_metrics.csv",
        runs=f"{RES}/runs.csv",
        data=[f"{PREP}/{d}/arrays.npz" for d in POINCARE_DATASETS],
    output:
        f"{RES}/poincare.csv",
    log:
        f"logs/{PRESET}/poincare.log",
    benchmark:
        f"logs/{PRESET}/benchmark/poincare.tsv"
    conda:
        CONDA_ENV
    params:
        poincare=P["poincare"],
    script:
        "../scripts/poincare.py"


rule bounds:
    input:
        metrics=f"{RES}/metrics.csv",
        class_metrics=f"{RES}/class_metrics.csv",
        runs=f"{RES}/runs.csv",
        poincare=f"{RES}/poincare.csv",
        fewshot=f"{RES}/fewshot.csv",
    output:
        f"{RES}/bounds.csv",
    log:
        f"logs/{PRESET}/bounds.log",
    conda:
        CONDA_ENV
    params:
        bounds=P["bounds"],
    script:
        "../scripts/bounds.py"
