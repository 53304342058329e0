"""`gcnc measure` on IDX files, a .npz and an image folder, for a study run (folder, final.pt or
checkpoint) and a torchvision model with a state-dict file: the numbers of gcnc.measure on the
same inputs normalised independently; bad arguments end with exit code 2 and a line naming them;
`gcnc --version` and `gcnc measure` import nothing of the study."""

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gcnc
from gcnc.cli import main
from gcnc.measure_io import IMAGENET_MEAN, IMAGENET_STD
from gcnc.models import build_model
from gcnc.study.data.fabricate import gzip_bytes, idx_bytes

K = 3
CNN = {"embed_dim": 6, "width": 4}


def study_run(folder: Path, arch: str, shape: tuple[int, ...], model: dict) -> torch.nn.Module:
    """A run folder as the study writes it: config.json (the keys read) and final.pt."""
    torch.manual_seed(0)
    net = build_model(arch, shape, K, **model)
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"run": {"arch": arch, "model": model}}))
    torch.save(net.state_dict(), folder / "final.pt")
    torch.save({"model": net.state_dict(), "step": 5}, folder / "checkpoints" / "step_5.pt")
    return net


@pytest.fixture(scope="module")
def idx(tmp_path_factory) -> tuple[Path, np.ndarray, np.ndarray]:
    folder = tmp_path_factory.mktemp("idx")
    rng = np.random.default_rng(0)
    y = (np.arange(24) % K).astype(np.uint8)
    x = rng.integers(0, 256, size=(24, 8, 8), dtype=np.uint8) // (1 + y[:, None, None])
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(gzip_bytes(idx_bytes(x)))
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip_bytes(idx_bytes(y)))
    return folder, x, y


def run_cli(*args: str, capsys) -> tuple[int, str, str]:
    code = main(["measure", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def assert_same(row: dict, expected: gcnc.Measurement) -> None:
    """Equal rows; of the notes, all but auto's estimator note (its timings)."""
    for key, value in expected.to_dict().items():
        if key == "notes":
            assert row[key].split("; GC estimator")[0] == value.split("; GC estimator")[0]
        elif isinstance(value, float):
            assert row[key] == pytest.approx(value, rel=1e-6), key
        else:
            assert row[key] == value, key


def test_study_run_on_idx_files_equals_gcnc_measure(tmp_path, idx, capsys):
    folder, x, y = idx
    net = study_run(tmp_path / "run", "cnn", (1, 8, 8), CNN)
    budget = ("--gc-max-seconds", "1e6")  # auto: exact, whatever the machine's speed
    code, out, err = run_cli(tmp_path / "run", folder, "--json", "--batch-size", "10", *budget,
                             capsys=capsys)  # fmt: skip
    assert code == 0, err
    row = json.loads(out)
    scaled = torch.from_numpy(x)[:, None].float() / 255
    mean, std = scaled.double().mean(), scaled.double().std(unbiased=False)
    inputs = (scaled - mean.float()) / std.float()
    expected = gcnc.measure(net, inputs, torch.from_numpy(y), batch_size=10, gc_max_seconds=1e6)
    assert_same(row, expected)
    assert row["normalize"] == "data" and "IDX, test split, 24 examples" in row["data"]
    assert "GC estimator exact (auto: predicted" in err and "embeddings 3/3 batches" in err
    for weights in ("final.pt", "checkpoints/step_5.pt"):
        code, out, _ = run_cli(tmp_path / "run" / weights, folder, "--csv", *budget, capsys=capsys)
        (parsed,) = csv.DictReader(io.StringIO(out))
        assert code == 0 and float(parsed["gc"]) == pytest.approx(row["gc"], rel=1e-9)


def test_npz_table_without_normalisation(tmp_path, capsys):
    net = study_run(tmp_path / "run", "mlp", (5,), {"embed_dim": 4, "width": 8})
    rng = np.random.default_rng(1)
    y = np.arange(30) % K
    x = (rng.normal(size=(30, 5)) + y[:, None]).astype(np.float32)
    np.savez(tmp_path / "data.npz", x=x, y=y)
    args = (tmp_path / "run", tmp_path / "data.npz", "--normalize", "none", "--quiet")
    code, out, err = run_cli(*args, "--estimator", "exact", capsys=capsys)
    assert code == 0 and err == ""
    table = dict(line.split(maxsplit=1) for line in out.splitlines() if " " in line)
    expected = gcnc.measure(net, x, y, estimator="exact")
    assert float(table["nc"]) == pytest.approx(expected.nc, rel=1e-5)
    assert table["gc_estimator"] == "exact" and table["accuracy"] == f"{expected.accuracy:.6g}"


def test_torchvision_model_with_a_state_dict_on_an_image_folder(tmp_path, capsys):
    from torchvision.models import resnet18

    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, size=(6, 16, 16, 3), dtype=np.uint8)
    for i, img in enumerate(pixels):
        (tmp_path / "images" / f"class{i % K}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(tmp_path / "images" / f"class{i % K}" / f"{i}.png")
    torch.manual_seed(0)
    net = resnet18(num_classes=K)
    torch.save(net.state_dict(), tmp_path / "weights.pt")
    options = ("--estimator", "hutchinson", "--n-probes", "2", "--json", "--quiet")
    code, out, err = run_cli(
        "resnet18",
        tmp_path / "images",
        "--weights",
        tmp_path / "weights.pt",
        *options,
        capsys=capsys,
    )
    assert code == 0, err
    order = [0, 3, 1, 4, 2, 5]  # the folder's order: class0/0.png, class0/3.png, class1/1.png ...
    scaled = torch.from_numpy(pixels[order]).permute(0, 3, 1, 2).contiguous().float() / 255
    mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
    inputs = (scaled - mean[:, None, None]) / std[:, None, None]
    expected = gcnc.measure(net, inputs, torch.arange(6) // 2, estimator="hutchinson", n_probes=2)
    assert_same(json.loads(out), expected)
    assert json.loads(out)["normalize"] == "imagenet"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["resnet19", "{npz}"], "MODEL: 'resnet19' is neither .*did you mean resnet18"),
        (
            ["resnet18", "{npz}", "--weights", "{garbage}"],
            r"--weights: cannot read .*garbage.pt as weights saved by torch.save \(",
        ),
        (["{run}", "{tmp}/nothing"], "DATA: .*nothing is not a .npz file"),
        (["{run}", "{npz}", "--weights", "{garbage}"], "--weights: a study run brings its own"),
        (["{run}", "{bad_npz}"], r"DATA: .*bad.npz holds \['x'\], expected arrays x and y"),
        (["{run}", "{npz}", "--max-examples", "0"], "--max-examples: expected a positive integer"),
        (["{garbage}", "{npz}"], "MODEL: .*garbage.pt is not in a study run folder"),
        (["{run}", "{npz}", "--n-probes", "0"], "^gcnc measure: error: --n-probes: expected a pos"),
        (["{run}", "{npz}", "--gc-max-seconds", "0"], "--gc-max-seconds: expected a positive"),
        (["{run}", "{npz}", "--gc-target-rse", "nan"], "--gc-target-rse: expected a positive"),
        (["{run}", "{npz}", "--layer", "nosuch"], "--layer: the model has no layer named 'nosuch'"),
    ],
)
def test_bad_arguments_exit_2_with_a_line_naming_them(tmp_path, capsys, args, message):
    study_run(tmp_path / "run", "mlp", (5,), {"embed_dim": 4, "width": 8})
    np.savez(tmp_path / "data.npz", x=np.zeros((6, 5), np.float32), y=np.arange(6) % K)
    np.savez(tmp_path / "bad.npz", x=np.zeros((6, 5)))
    (tmp_path / "garbage.pt").write_bytes(b"not a torch file")
    paths = {"npz": tmp_path / "data.npz", "bad_npz": tmp_path / "bad.npz", "tmp": tmp_path}
    paths |= {"run": tmp_path / "run", "garbage": tmp_path / "garbage.pt"}
    code, _, err = run_cli(*[a.format(**paths) for a in args], "--quiet", capsys=capsys)
    assert code == 2 and err.startswith("gcnc measure: error: ")
    assert len(err.strip().splitlines()) == 1
    assert __import__("re").search(message, err), err


def test_version_and_measure_import_nothing_of_the_study(tmp_path):
    study_run(tmp_path / "run", "mlp", (5,), {"embed_dim": 4, "width": 8})
    np.savez(tmp_path / "data.npz", x=np.ones((6, 5), np.float32), y=np.arange(6) % K)
    version = subprocess.run(
        [sys.executable, "-m", "gcnc.cli", "--version"], capture_output=True, text=True
    )
    assert version.stdout.strip() == f"gcnc {gcnc.__version__}"
    study = ("snakemake", "dvc", "pandas", "scipy", "sklearn", "matplotlib", "yaml", "jsonschema")
    script = (
        "import sys; from gcnc.cli import main; "
        f"code = main(['measure', '{tmp_path / 'run'}', '{tmp_path / 'data.npz'}', '--quiet']); "
        f"print(code, sorted(m for m in {study!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stderr
