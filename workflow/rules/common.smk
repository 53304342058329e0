# Configuration, validation and the run grid, shared by every rule.
import os
import re
from pathlib import Path

from snakemake.exceptions import WorkflowError

from gcnc.study.config import (
    check_device,
    preset_data,
    config_hash,
    preset_config,
    workflow_config,
    validate_config,
)
from gcnc.study.grid import expand_runs, study_runs
from gcnc.study.resources import pretrain_request, preset_resources

from gcnc.study.constants import RESULT_NEUTRAL
from gcnc.study.plan import run_plan
from gcnc.study.runner.preflight import missing_modules
from gcnc.study.data.availability import availability_errors, fabricated_kinds

from gcnc.study.config import read_config_file

read_config_file("params.yaml")  # a file that is not YAML: an error naming it, not a traceback


configfile: "params.yaml"


config.update(workflow_config(config))  # derived presets resolved, schema checked, defaults set
validate_config(config)  # cross-references (preset, datasets, studies)
if workflow.local_exec and workflow.is_main_process and not workflow.dryrun:
    check_device(config, config["preset"])  # device: cuda on a machine without one

CONDA_ENV = "../../envs/gcnc.yaml"  # used by --sdm conda; relative to workflow/rules/
# every job imports gcnc from this checkout, in the venv and in the conda env alike
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        [str(Path(workflow.basedir) / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
)
PRESET = config["preset"]
P = config["presets"][PRESET]
RUNS = expand_runs(config, PRESET)  # run_id -> RunSpec: the whole pretraining grid
PLAN = run_plan(config, PRESET)  # which run is in which study and sweep row (plan.csv)
RES = f"results/{PRESET}"
FIGS = f"paper_figures/{PRESET}"
DATA = preset_data(config, PRESET)  # top-level data settings, the preset's over them
PREP = DATA["prepared_dir"]
SOURCE_RUNS = sorted(r for r, s in RUNS.items() if s.task == "source")
SOURCE_DATASETS = sorted({RUNS[r].dataset for r in SOURCE_RUNS})
DATASETS = sorted({s.dataset for s in RUNS.values()})
POINCARE_DATASETS = sorted(set(DATASETS) | set(P["poincare"].get("datasets", [])))
GPUS = 0 if P["device"] == "cpu" else 1  # every rule that runs a model asks for one GPU
RESOURCES = preset_resources(config, PRESET)  # scheduler requests: profiles/, not DVC
# what decides this preset's results; sidecars record it, rules that draw take it as a param
PRESET_CONFIG_SHA256 = config_hash(preset_config(config, PRESET))
FABRICATE = fabricated_kinds(DATA.get("fabricate", []), config, POINCARE_DATASETS)


# Wildcards match exactly the names the plan and the config define, nothing else.
wildcard_constraints:
    run="|".join(re.escape(r) for r in sorted(RUNS)),
    dataset="|".join(sorted(config["datasets"])),


def made_here(dataset):
    """Synthetic, or built from files this workflow fabricates."""
    kind = config["datasets"][dataset]["kind"]
    return kind in ("digits", "gaussians", "uniform_boxes") or (
        {"cifar_fs": "cifar100"}.get(kind, kind) in FABRICATE
    )


def run_files(run_ids, name):
    return [f"{RES}/runs/{r}/{name}" for r in run_ids]


def prepared(dataset):
    return [f"{PREP}/{dataset}/arrays.npz", f"{PREP}/{dataset}/meta.json"]


def run_upstream(run_ids, datasets=()):
    """Everything drawn from these runs depends on: each run's weights, config and metrics, and
    the prepared data of their datasets (and of ``datasets``)."""
    names = sorted({RUNS[r].dataset for r in run_ids} | set(datasets))
    files = [run_files(sorted(run_ids), f) for f in ("final.pt", "config.json", "metrics.csv")]
    return [f for group in files for f in group] + [f for d in names for f in prepared(d)]


def run_data(wildcards):
    """The prepared data a run trains and is evaluated on."""
    return prepared(RUNS[wildcards.run].dataset)


def source_runs(dataset):
    """The runs pretrained on the source classes of ``dataset`` (few-shot evaluated on its
    target classes)."""
    return [r for r in SOURCE_RUNS if RUNS[r].dataset == dataset]


def run_spec(wildcards):
    """Everything that determines a run (gcnc.study.grid.RunSpec), as the job's params."""
    return RUNS[wildcards.run].to_dict()


def dataset_spec(wildcards):
    """A dataset's definition in params.yaml (datasets/<name>)."""
    return config["datasets"][wildcards.dataset]


def figure_tables(wildcards):
    """The workflow tables a figure is drawn from (by its kind; figures.smk)."""
    return SECTION_INPUTS[FIGURES[wildcards.figure]["kind"]]


def table_tables(wildcards):
    """The workflow table a paper table is made from (figures.smk)."""
    return TABLE_INPUTS[wildcards.table]


def figure_upstream(wildcards):
    """The runs a figure draws (Fig. 2: its one model) and their data, for its sidecar."""
    plan = FIGURES[wildcards.figure]
    if plan["kind"] == "gc_sampling":
        return run_upstream([gc_sampling_run()])
    return run_upstream([r["run_id"] for r in plan.get("runs", [])])


def gc_sampling_run():
    """The Fig. 2 model: the base point, first seed, of the study named in gc_sampling."""
    return study_runs(config, PRESET, P["gc_sampling"]["study"])[0].run_id


def pretrain_resource(key):
    """Scheduler request of a pretraining job (profiles/resources.yaml, x attempt)."""
    return (
        lambda wildcards, attempt: pretrain_request(RUNS[wildcards.run], RESOURCES)[key] * attempt
    )


def model_job_resource(key):
    """Scheduler request of the other jobs that run a model (Fig. 2, few-shot), x attempt."""
    cfg = RESOURCES.get("model_jobs", {"mem_mb": 4000, "runtime": 30})
    return lambda wildcards, attempt: cfg[key] * attempt


# Every raw dataset the preset needs can be found, and every module the jobs import can be
# imported (in this environment; with --sdm conda each job has its own), before any job starts
# (not in a dry run, which plans without data).
onstart:
    missing = availability_errors(
        {**config, "data": DATA}, [d for d in POINCARE_DATASETS if not made_here(d)]
    )
    if not workflow.deployment_settings.deployment_method:
        base = Path(workflow.basedir)
        missing += missing_modules([base / "src" / "gcnc", base / "workflow" / "scripts"])
    if missing:
        raise WorkflowError("\n\n".join(["the study cannot start:", *missing]))
