"""`gcnc measure` never tracebacks on a user's mistake: every case of issue 34 ends in one line on
stderr naming the flag, MODEL or the DATA file, and exit code 2 (the model failing on the data
with a hint, weights of another architecture, the wrong kind of file, bad pixels and images);
what was silently wrong is right (integer pixels of any dtype, (N, H, W) arrays, --max-examples
per class); --help is plain text with examples; --detail writes files pandas and NumPy read."""

import json
import re

import numpy as np
import pytest
import torch
from PIL import Image

from gcnc.cli import main
from tests.test_measure_cli import K, run_cli, study_run


def one_error_line(code: int, err: str, pattern: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gcnc measure: error: "), err
    assert re.search(pattern, lines[0]), lines[0]


@pytest.fixture
def run(tmp_path):
    """A study MLP run on 5 inputs and its data: 12 examples of K classes."""
    study_run(tmp_path / "run", "mlp", (5,), {"embed_dim": 4, "width": 8})
    rng = np.random.default_rng(0)
    y = np.arange(12) % K
    np.savez(tmp_path / "data.npz", x=rng.normal(size=(12, 5)).astype(np.float32) + y[:, None], y=y)
    return tmp_path / "run"


def images(folder, sizes: list[tuple[int, int]]) -> None:
    rng = np.random.default_rng(1)
    for i, (h, w) in enumerate(sizes):
        (folder / f"c{i % K}").mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"c{i % K}" / f"{i}.png")


def test_a_vit_on_small_images_says_which_image_size_it_takes(tmp_path, capsys):
    images(tmp_path / "images", [(32, 32)] * 6)
    code, _, err = run_cli("vit_b_16", tmp_path / "images", "--quiet", capsys=capsys)
    one_error_line(
        code,
        err,
        r"MODEL: failed on the data \(AssertionError: Wrong image height! Expected 224 but got "
        r"32!\); the model takes 224x224 images: add --image-size 224$",
    )


def test_weights_of_another_architecture_are_summarised_and_matched(tmp_path, capsys):
    from torchvision.models import resnet34

    images(tmp_path / "images", [(16, 16)] * 6)
    torch.save(resnet34(num_classes=K).state_dict(), tmp_path / "r34.pt")
    args = ("resnet18", tmp_path / "images", "--weights", tmp_path / "r34.pt", "--quiet")
    code, _, err = run_cli(*args, capsys=capsys)
    one_error_line(
        code,
        err,
        r"--weights: .*r34.pt does not fit resnet18 \(\d+ unexpected keys \(e.g. layer1.2.conv1"
        r".weight\)\); they fit resnet34$",
    )


FILE_OF = {"x and y lengths": "short.npz", "a NaN pixel": "nan.npz"}


@pytest.mark.parametrize(
    ("case", "pattern"),
    [
        ("weights are a .npz", r"--weights: cannot read .*data.npz as weights saved by torch.save"),
        ("garbage .npz", r"DATA: .*garbage.npz is not a readable .npz of arrays x and y \("),
        ("pickled .npz", r"DATA: .*pickled.npz is not a readable .npz .*allow_pickle"),
        ("empty .npz", r"DATA: .*empty.npz: no examples \(x and y have 0 rows\)"),
        ("x and y lengths", r"DATA: .*short.npz: x of shape \(12, 5\) needs one row per label; "),
        ("float labels", r"DATA: .*float.npz: y must be a 1-D array of integer class labels"),
        (
            "a NaN pixel",
            r"DATA: .*nan.npz: x has 1 non-finite value \(NaN or inf\), the first "
            r"at x\[3, 2, 5\]$",
        ),  # fmt: skip
        ("negative int pixels", r"DATA: .*negative.npz: integer pixels must be >= 0, x has -1"),
        ("too few examples", r"--max-examples: 2 is fewer than the 3 classes of DATA"),
    ],
)
def test_bad_files_and_options_end_in_one_line_naming_them(run, tmp_path, capsys, case, pattern):
    x, y = np.random.default_rng(2).normal(size=(12, 5)), np.arange(12) % K
    (tmp_path / "garbage.npz").write_bytes(b"PK\x03\x04 not a zip at all")
    np.savez(tmp_path / "pickled.npz", x=np.array([{}, {}], dtype=object), y=np.arange(2))
    np.savez(tmp_path / "empty.npz", x=np.zeros((0, 5)), y=np.zeros(0, int))
    np.savez(tmp_path / "short.npz", x=x, y=y[:11])
    np.savez(tmp_path / "float.npz", x=x, y=y.astype(float))
    grey = np.zeros((6, 8, 8))
    grey[3, 2, 5] = np.nan
    np.savez(tmp_path / "nan.npz", x=grey, y=np.arange(6) % K)
    np.savez(tmp_path / "negative.npz", x=-np.ones((6, 5), np.int16), y=np.arange(6) % K)
    args = {
        "weights are a .npz": (
            "resnet18",
            tmp_path / "data.npz",
            "--weights",
            tmp_path / "data.npz",
        ),
        "too few examples": (run, tmp_path / "data.npz", "--max-examples", "2"),
    }.get(case, (run, tmp_path / FILE_OF.get(case, f"{case.split()[0]}.npz")))
    code, _, err = run_cli(*args, "--quiet", capsys=capsys)
    one_error_line(code, err, pattern)


def test_corrupt_and_mixed_images_are_named(tmp_path, capsys):
    images(tmp_path / "corrupt", [(16, 16)] * 6)
    (tmp_path / "corrupt" / "c0" / "3.png").write_bytes(b"\x89PNG truncated")
    code, _, err = run_cli("resnet18", tmp_path / "corrupt", "--quiet", capsys=capsys)
    one_error_line(code, err, r"DATA: cannot read the image .*c0/3.png \(UnidentifiedImageError")
    images(tmp_path / "mixed", [(16, 16)] * 4 + [(10, 12)] + [(16, 16)])
    code, _, err = run_cli("resnet18", tmp_path / "mixed", "--quiet", capsys=capsys)
    one_error_line(code, err, r"DATA: .*c1/4.png is 10x12, .*0.png is 16x16: add --image-size")
    code, _, err = run_cli(
        "resnet18", tmp_path / "mixed", "--image-size", "16", "--quiet", "--json", capsys=capsys
    )
    assert code == 0, err


def test_integer_pixels_of_any_dtype_and_grey_arrays_read_as_images(run, tmp_path, capsys):
    """uint8, int64 and uint16 arrays of the same 0..255 pixels, (N, 1, H, W) or (N, H, W):
    one result (study CNN, data normalisation); the description says what was done."""
    study_run(tmp_path / "cnn", "cnn", (1, 8, 8), {"embed_dim": 6, "width": 4})
    pixels = np.random.default_rng(3).integers(0, 256, size=(12, 1, 8, 8)).astype(np.uint8)
    y = np.arange(12) % K
    rows = {}
    for name, x in {
        "uint8": pixels,
        "int64": pixels.astype(np.int64),
        "uint16": pixels.astype(np.uint16),
        "grey": pixels[:, 0],
    }.items():
        np.savez(tmp_path / f"{name}.npz", x=x, y=y)
        args = (tmp_path / "cnn", tmp_path / f"{name}.npz", "--estimator", "exact")
        code, out, err = run_cli(*args, "--json", "--quiet", capsys=capsys)
        assert code == 0, err
        rows[name] = json.loads(out)
    for name in ("int64", "uint16", "grey"):
        assert rows[name]["gc"] == pytest.approx(rows["uint8"]["gc"], rel=1e-6)
        assert rows[name]["nc"] == pytest.approx(rows["uint8"]["nc"], rel=1e-6)
    assert "int64 pixels 0..255 divided by 255" in rows["int64"]["data"]
    assert "(N, H, W) read as grey images" in rows["grey"]["data"]


def test_max_examples_samples_every_class_and_detail_is_written(run, tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    y = np.arange(40) % 10
    x = np.random.default_rng(4).normal(size=(40, 5)).astype(np.float32) + y[:, None]
    np.savez(tmp_path / "ten.npz", x=x, y=y)
    study_run(tmp_path / "run10", "mlp", (5,), {"embed_dim": 4, "width": 8})
    args = (run, tmp_path / "ten.npz", "--max-examples", "12", "--json", "--quiet")
    code, out, err = run_cli(*args, "--detail", tmp_path / "detail", capsys=capsys)
    assert code == 0, err
    row = json.loads(out)
    assert (row["n_examples"], row["n_classes"]) == (12, 10)
    assert "a class-stratified random subset of 12" in row["data"]
    classes = pd.read_csv(tmp_path / "detail" / "classes.csv")
    assert classes["n"].sum() == 12 and sorted(classes["n"].tolist()) == [1] * 8 + [2] * 2
    assert np.load(tmp_path / "detail" / "means.npy").shape == (10, 4)
    assert np.load(tmp_path / "detail" / "cdnv.npy").shape == (10, 10)


@pytest.mark.parametrize("argv", [["--help"], ["measure", "--help"]])
def test_help_is_plain_text_with_examples(argv, capsys):
    with pytest.raises(SystemExit) as done:
        main(argv)
    text = capsys.readouterr().out
    assert done.value.code == 0
    assert "examples:\n  gcnc measure resnet18 images/ --weights resnet18.pt" in text
    assert not re.search(r"``|:func:|:mod:|:class:", text)
