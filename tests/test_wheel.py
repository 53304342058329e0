"""The library installs on its own: a wheel built from this checkout, installed with its `vision`
extra in a fresh virtual environment (no system site packages), brings neither Snakemake, DVC nor
pandas, and there measures a torchvision ResNet-18 (weights from a state-dict file) on a folder of
PNG images with `gcnc measure` and with `gcnc.measure`, giving the numbers computed here
independently (features from ResNet-18's layers up to `avgpool`, the metrics from the in-repo
functions on all features at once, GC exactly). A few minutes, most of them pip installing
torch from the local index."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import gcnc
from gcnc.measure_io import IMAGENET_MEAN, IMAGENET_STD
from gcnc.metrics import (
    class_stats,
    geometric_collapse,
    nc1,
    nc2,
    nc3,
    nc4,
    ncm_accuracy,
    neural_collapse,
    numerical_rank,
    per_example_gc,
    stable_rank,
)

ROOT = Path(__file__).resolve().parents[1]
K, PER_CLASS, SIZE = 3, 3, 16
API = """
import json, sys, torch, gcnc
from torchvision import datasets, transforms
from torchvision.models import resnet18
model = resnet18(num_classes={k})
model.load_state_dict(torch.load(sys.argv[2], weights_only=True))
prep = transforms.Compose([transforms.ToTensor(), transforms.Normalize({mean}, {std})])
m = gcnc.measure(model, datasets.ImageFolder(sys.argv[1], prep), gc_max_seconds=1e6)
print(json.dumps(m.to_dict()))
"""


def run(*args: object, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["OMP_NUM_THREADS"] = "1"  # as the tests in this process (conftest)
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def independent(pixels: np.ndarray, model: nn.Module) -> dict[str, float]:
    """The metrics on all features at once, from ResNet-18's layers up to avgpool."""
    x = torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous().float() / 255
    x = (x - torch.tensor(IMAGENET_MEAN)[:, None, None]) / torch.tensor(IMAGENET_STD)[:, None, None]
    y = torch.arange(len(x)) // PER_CLASS
    body = nn.Sequential(*list(model.children())[:-1], nn.Flatten()).eval()
    with torch.no_grad():
        f = body(x)
        logits = model.eval()(x)
    gc = float(per_example_gc(body, x).mean())  # classes of equal size: the balanced mean
    means = class_stats(f, y).means
    equinorm, equiangle = nc2(f, y)
    return {
        "gc": gc,
        "geometric_collapse": geometric_collapse(gc, f, y),
        "nc": neural_collapse(f, y),
        "nc1": nc1(f, y),
        "nc2_equinorm": equinorm,
        "nc2_equiangle": equiangle,
        "nc3": nc3(f, y, model.fc.weight),
        "nc4": nc4(f, logits, means),
        "accuracy": float((logits.argmax(1) == y).double().mean()),
        "ncm_accuracy": ncm_accuracy(f, y, means),
        "rank": numerical_rank(f),
        "stable_rank": stable_rank(f, y),
    }


@pytest.mark.slow
def test_wheel_alone_measures_resnet18_on_an_image_folder(tmp_path):
    from torchvision.models import resnet18

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(K * PER_CLASS, SIZE, SIZE, 3), dtype=np.uint8)
    for i, img in enumerate(pixels):  # class c holds images 3c .. 3c+2, in name order
        (tmp_path / "images" / f"c{i // PER_CLASS}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(tmp_path / "images" / f"c{i // PER_CLASS}" / f"{i}.png")
    torch.manual_seed(0)
    model = resnet18(num_classes=K)
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    venv = tmp_path / "venv"
    try:
        source = tmp_path / "source"  # a copy: building writes build/ into the source folder
        ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
        shutil.copytree(ROOT / "src", source / "src", ignore=ignore)
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(ROOT / name, source / name)
        build = ("-m", "pip", "wheel", "--no-deps", "-q", "-w", "dist", source)
        run(sys.executable, *build, cwd=tmp_path)
        (wheel,) = (tmp_path / "dist").glob("gcnc-*.whl")
        run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
        python = venv / "bin" / "python"
        run(python, "-m", "pip", "install", "-q", f"{wheel}[vision]", cwd=tmp_path)
        probe = "import importlib.util as u; print([m for m in {} if u.find_spec(m)])"
        study = ("snakemake", "dvc", "pandas", "scipy", "yaml")
        assert run(python, "-c", probe.format(study), cwd=tmp_path).strip() == "[]"
        version = run(venv / "bin" / "gcnc", "--version", cwd=tmp_path).strip()
        assert version == f"gcnc {gcnc.__version__}"
        cli = json.loads(
            run(
                *(venv / "bin" / "gcnc", "measure", "resnet18", tmp_path / "images"),
                *("--weights", tmp_path / "weights.pt", "--json", "--quiet"),
                *("--gc-max-seconds", "1e6"),
                cwd=tmp_path,
            )
        )
        script = API.format(k=K, mean=IMAGENET_MEAN, std=IMAGENET_STD)
        api = json.loads(
            run(python, "-c", script, tmp_path / "images", tmp_path / "weights.pt", cwd=tmp_path)
        )
    finally:
        shutil.rmtree(venv, ignore_errors=True)  # about 5 GB of torch
    expected = independent(pixels, model)
    for row in (cli, api):
        # auto with a budget of 1e6 s: exact GC, whatever the machine's speed
        assert (row["gc_estimator"], row["n_examples"], row["n_classes"]) == ("exact", 9, K)
        assert row["embedding"] == "input of 'fc' (512 -> 3)"
        for key, value in expected.items():
            assert row[key] == pytest.approx(value, rel=1e-5), key
