# Configuration, validation and the run grid, shared by every rule.
from snakemake.utils import validate

from gcnc.config import SCHEMA_PATH, expand_runs, study_runs, validate_config


configfile: "params.yaml"


validate(config, str(SCHEMA_PATH))  # structure: a wrong key or type stops here, naming the key
validate_config(config)  # cross-references (preset, datasets, studies)

CONDA_ENV = "../../envs/gcnc.yaml"  # used by --sdm conda; relative to workflow/rules/
PRESET = config["preset"]
P = config["presets"][PRESET]
RUNS = expand_runs(config, PRESET)  # run_id -> RunSpec: the whole pretraining grid
RES = f"results/{PRESET}"
FIGS = f"paper_figures/{PRESET}"
PREP = config["data"]["prepared_dir"]
SOURCE_RUNS = sorted(r for r, s in RUNS.items() if s.task == "source")
DATASETS = sorted({s.dataset for s in RUNS.values()})
POINCARE_DATASETS = sorted(set(DATASETS) | set(P["poincare"].get("datasets", [])))


wildcard_constraints:
    run=r"[^/]+",
    dataset=r"[A-Za-z0-9_]+",
    study=r"[A-Za-z0-9_]+",


def run_files(run_ids, name):
    return [f"{RES}/runs/{r}/{name}" for r in run_ids]


def prepared(dataset):
    return [f"{PREP}/{dataset}/arrays.npz", f"{PREP}/{dataset}/meta.json"]


def gc_sampling_run():
    """The Fig. 2 model: the base point, first seed, of the study named in gc_sampling."""
    return study_runs(config, PRESET, P["gc_sampling"]["study"])[0].run_id


def pretrain_resource(key):
    """Scheduler request of a pretraining job from the preset's `resources` (x attempt)."""
    cfg = P.get("resources", {}).get("pretrain", {"mem_mb": 2000, "runtime": 30, "gpu": 0})

    def request(wildcards, attempt):
        spec = RUNS[wildcards.run]
        scale = cfg.get("scale", {})
        factor = scale.get(spec.arch, 1.0) * scale.get(spec.dataset, 1.0)
        return int(cfg[key] * factor * attempt)

    return cfg["gpu"] if key == "gpu" else request
