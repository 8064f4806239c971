"""The command lines as a careless user meets them: bad numbers, used folders, wrong data,
diverging runs and damaged checkpoints all get a clear error and a non-zero exit status."""
import importlib.util
import argparse
import json
import re
import warnings
import zipfile

import numpy as np
import pytest

from minicnn.cli import main as minicnn_main
from minicnn import Residual, Sequential
from minicnn.limits import LIMITS
from minicnn.cli.exits import BAD_CHECKPOINT, BAD_DATA
from minicnn.models import read_checkpoint_meta

from .conftest import REPO_ROOT
from .test_train import colour_dataset, make_trainer, write_class_folders


def example(name):
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def isolated_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("MINICNN_CACHE_DIR", str(tmp_path / "cache"))


# --- every numeric option is checked by argparse, before any data loads ----------------------

BAD_OPTIONS = {
    "train_ahe": [("--epochs", "0", "an integer >= 1"), ("--epochs", "-1", "an integer >= 1"),
                  ("--width", "0", "an integer >= 1"), ("--batch-size", "0", "an integer >= 1"),
                  ("--lr", "nan", "a finite number > 0"), ("--lr", "inf", "a finite number > 0"),
                  ("--lr", "0", "a finite number > 0"), ("--weight-decay", "-1", ">= 0"),
                  ("--val-fraction", "0", "> 0 and < 1"), ("--val-fraction", "1", "> 0 and < 1"),
                  ("--color-jitter", "1", ">= 0 and < 1"), ("--color-jitter", "-0.1", ">= 0"),
                  ("--dropout", "1", ">= 0 and < 1"), ("--max-shift", "64", ">= 0 and <= 63"),
                  ("--patience", "-1", "an integer >= 0"), ("--seed", "-1", "an integer >= 0"),
                  ("--epochs", "two", "an integer >= 1"), ("--snapshot-epochs", "0,2", "from 1"),
                  ("--blocks", "1,1,1,1,1,1,1", "1 to 6 stages"), ("--blocks", ",", "1 to 6 stages"),
                  ("--blocks", "1,0", ">= 1")],
    "tune_ahe": [("--trials", "0", "an integer >= 1"), ("--epochs", "0", "an integer >= 1"),
                 ("--train-fraction", "0", "> 0 and <= 1"), ("--seed", "-2", ">= 0")],
    "generate_class_images": [("--steps", "0", ">= 1"), ("--step-size", "0", "> 0"),
                              ("--norm-percentile", "101", "<= 100"), ("--jitter", "-1", ">= 0"),
                              ("--l2-decay", "1", "< 1"), ("--image-size", "0", ">= 1")],
    "visualize_deconv": [("--val-fraction", "1", "< 1"), ("--channels", "0", ">= 1"),
                         ("--occluder-stride", "0", ">= 1")],
}
REQUIRED = {"train_ahe": [], "tune_ahe": [], "generate_class_images": ["--checkpoint", "c", "--out", "o"],
            "visualize_deconv": ["--checkpoint", "c", "--out", "o"]}


@pytest.mark.parametrize("script, option, value, rule",
                         [(script, *case) for script, cases in BAD_OPTIONS.items() for case in cases])
def test_bad_numbers_are_refused_by_argparse(script, option, value, rule, capsys):
    """Issue 15: --epochs 0 trained 25 epochs, --width 0 used 16, and --epochs -1, --lr nan,
    --val-fraction 0 or --color-jitter 1 failed deep inside, some after the data loaded."""
    parse = example(script).parse_arguments
    with pytest.raises(SystemExit) as stopped:
        parse(REQUIRED[script] + [option, value])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert f"argument {option}: " in error and rule in error and value in error


@pytest.mark.parametrize("script", ["train_ahe", "tune_ahe"])
def test_each_hyperparameter_option_follows_its_one_rule_in_limits(script):
    """Issue 20: each hyperparameter was validated in three places that could disagree; the
    command lines now take their rule from minicnn/limits.py, as TrainConfig and the data
    functions do. Every option named after a LIMITS entry accepts exactly what it admits."""
    parser = example(script).build_parser()
    options = {action.dest: action for action in parser._actions if action.dest in LIMITS}
    assert len(options) >= (12 if script == "train_ahe" else 2)
    for name, action in options.items():
        for text in ["-1", "0", "0.5", "1", "2", "63", "1e9", "nan", "inf"]:
            try:
                value, accepted = action.type(text), True
            except argparse.ArgumentTypeError:
                value, accepted = None, False
            expected = LIMITS[name].admits(int(text) if LIMITS[name].integer and
                                           text.lstrip("-").isdigit() else float(text))
            if name == "max_shift" and text == "1e9":
                expected = False    # also bounded by the image size
            assert accepted == expected, (name, text, value)


def test_train_ahe_help_shows_each_default_once(capsys):
    with pytest.raises(SystemExit):
        example("train_ahe").parse_arguments(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: None)" not in text
    assert "default 23 (2 with --quick)" in text and "(default: ahe-resnet)" in text


def test_given_epochs_and_width_are_used_as_given():
    arguments = example("train_ahe").parse_arguments(["--epochs", "3", "--width", "4", "--quick"])
    assert (arguments.epochs, arguments.width) == (3, 4)


def test_evaluate_refuses_a_zero_batch_size(capsys):
    with pytest.raises(SystemExit) as stopped:
        minicnn_main(["evaluate", "--checkpoint", "c", "--data", "d", "--batch-size", "0"])
    assert stopped.value.code == 2
    assert "argument --batch-size: must be an integer >= 1, got 0" in capsys.readouterr().err


# --- train_ahe.py end to end, on a tiny folder of class folders ------------------------------

TINY_RUN = ["--epochs", "2", "--width", "2", "--batch-size", "8", "--backend", "numpy",
            "--no-progress", "--val-fraction", "0.3"]


@pytest.fixture
def data_root(tmp_path):
    write_class_folders(tmp_path / "data" / "train", per_class=6)
    return tmp_path / "data"


def train_ahe(*arguments):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # a diverging run overflows, by design
        return example("train_ahe").main(list(arguments))


def test_train_ahe_refuses_a_used_folder_before_loading_any_data(data_root, tmp_path, capsys):
    """Issue 15: the README command, run again, overwrote the previous run's best.npz."""
    out = tmp_path / "runs" / "ahe"
    assert train_ahe("--data", str(data_root), "--out", str(out), *TINY_RUN) == 0
    report = capsys.readouterr()
    best = read_checkpoint_meta(out / "best.npz")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["best_epoch"] == best["epoch"]
    assert f"validation (best epoch {best['epoch']})" in report.out
    assert "macro averages over all 3 classes" in report.out
    before = (out / "best.npz").read_bytes()

    code = train_ahe("--data", str(tmp_path / "no-data-here"), "--out", str(out), *TINY_RUN)
    error = capsys.readouterr().err
    assert code == 2
    assert "already holds a run" in error and "--resume" in error and f"--out {out}-2" in error
    assert "no-data-here" not in error   # refused before the data was looked for
    assert (out / "best.npz").read_bytes() == before


def test_train_ahe_refuses_out_naming_a_file(data_root, tmp_path, capsys):
    (tmp_path / "taken").write_text("a file")
    assert train_ahe("--data", str(data_root), "--out", str(tmp_path / "taken"), *TINY_RUN) == 2
    error = capsys.readouterr().err
    assert "is a file" in error and "Traceback" not in error


def test_train_ahe_refuses_a_single_class(tmp_path, capsys):
    """Issue 15: a 1-class dataset trained to "100%" with no warning."""
    write_class_folders(tmp_path / "data" / "train", per_class=6)
    for name in ("green", "blue"):
        for file in (tmp_path / "data" / "train" / name).iterdir():
            file.unlink()
        (tmp_path / "data" / "train" / name).rmdir()
    assert train_ahe("--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"),
                     *TINY_RUN) == BAD_DATA
    assert "a classifier needs at least 2 classes" in capsys.readouterr().err


def test_train_ahe_refuses_an_empty_validation_split(data_root, tmp_path, capsys):
    """Issue 15: it was a traceback after a whole epoch."""
    code = train_ahe("--data", str(data_root), "--out", str(tmp_path / "run"), *TINY_RUN,
                     "--val-fraction", "0.01")
    assert code == BAD_DATA
    assert "leaves the validation split empty" in capsys.readouterr().err
    assert not list((tmp_path / "run").glob("*"))


def test_train_ahe_resume_on_other_classes_is_refused(data_root, tmp_path, capsys):
    out = str(tmp_path / "run")
    assert train_ahe("--data", str(data_root), "--out", out, *TINY_RUN, "--epochs", "1") == 0
    (data_root / "train" / "red").rename(data_root / "train" / "rose")
    assert train_ahe("--data", str(data_root), "--out", out, *TINY_RUN, "--resume") == BAD_CHECKPOINT
    assert "trained on the classes ['blue', 'green', 'red'], the data has ['blue', 'green', " \
           "'rose']" in capsys.readouterr().err


def test_a_diverging_run_exits_non_zero_and_leaves_only_finite_checkpoints(data_root, tmp_path,
                                                                           capsys):
    """Issue 15: --lr inf exited 0 with NaN weights in best.npz."""
    out = tmp_path / "run"
    code = train_ahe("--data", str(data_root), "--out", str(out), *TINY_RUN, "--lr", "1e30")
    error = capsys.readouterr().err
    assert code == 3
    assert re.search(r"error: training diverged at epoch 1, batch \d+ \(lr [0-9.e+]+\): the "
                     r"(loss became|update left)", error) and "Try a lower --lr" in error
    assert "no epoch has finished, so no checkpoint was written" in error
    assert not list(out.glob("*.npz"))


# --- evaluate and the examples that load a checkpoint -----------------------------------------

@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A checkpoint of the 3 colour classes, a NaN copy of it, and a root with train/ and test/."""
    root = tmp_path_factory.mktemp("cli")
    data = colour_dataset()
    make_trainer(root / "run", epochs=1).fit(data.subset(np.arange(36)), data.subset(np.arange(36, 48)))
    with np.load(root / "run" / "best.npz") as stored:
        arrays = {key: stored[key] for key in stored.files}
    arrays["param.4.W"] = np.full_like(arrays["param.4.W"], np.nan)
    np.savez(root / "nan.npz", **arrays)
    write_class_folders(root / "data" / "train", per_class=3)
    write_class_folders(root / "data" / "test", per_class=4, seed=1)
    return root / "run" / "best.npz", root / "nan.npz", root / "data"


def evaluate(*arguments):
    return minicnn_main(["evaluate", *map(str, arguments), "--backend", "numpy"])


def test_evaluate_on_a_dataset_root_asks_which_split(trained_run, capsys):
    """Issue 15: `evaluate --data ROOT` silently scored train/."""
    checkpoint, _, root = trained_run
    assert evaluate("--checkpoint", checkpoint, "--data", root, "--json") == BAD_DATA
    captured = capsys.readouterr()
    assert "is a dataset root (split folders: test, train): say which split to score with " \
           "--split, e.g. --split test" in captured.err
    assert captured.out == ""
    assert evaluate("--checkpoint", checkpoint, "--data", root, "--split", "test", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["scored"].endswith("test") and report["num_images"] == 12


def test_evaluate_says_which_classes_its_macro_averages_cover(trained_run, tmp_path, capsys):
    """Issue 15: on a folder of 3 of 10 classes, macro-F1 averaged in 7 classes with no images."""
    checkpoint, _, _ = trained_run
    write_class_folders(tmp_path / "two", per_class=4)
    for file in (tmp_path / "two" / "blue").iterdir():
        file.unlink()
    (tmp_path / "two" / "blue").rmdir()
    assert evaluate("--checkpoint", checkpoint, "--data", tmp_path / "two", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["macro_average_classes"] == ["red", "green"]
    assert report["macro_f1"] == pytest.approx(np.mean([report["per_class"][name]["f1"]
                                                        for name in ("red", "green")]))
    assert report["balanced_accuracy"] == pytest.approx(np.mean(
        [report["per_class"][name]["recall"] for name in ("red", "green")]))
    assert evaluate("--checkpoint", checkpoint, "--data", tmp_path / "two") == 0
    assert "macro averages over the 2 of 3 classes with images here: red, green" in \
        capsys.readouterr().out


NAN_MESSAGE = "param.4.W holds 12 non-finite values"


def test_evaluate_refuses_non_finite_weights(trained_run, capsys):
    """Issue 15: a checkpoint with NaN weights scored 10% and exited 0."""
    _, nan_checkpoint, root = trained_run
    assert evaluate("--checkpoint", nan_checkpoint, "--data", root / "test") == BAD_CHECKPOINT
    captured = capsys.readouterr()
    assert NAN_MESSAGE in captured.err and captured.out == ""


@pytest.mark.parametrize("script, arguments", [
    ("generate_class_images", ["--steps", "2", "--backend", "numpy"]),
    ("visualize_deconv", ["--backend", "numpy", "--val-fraction", "0.5"]),
])
def test_the_examples_refuse_non_finite_weights(script, arguments, trained_run, tmp_path, capsys):
    _, nan_checkpoint, root = trained_run
    extra = ["--data", str(root)] if script == "visualize_deconv" else []
    code = example(script).main(["--checkpoint", str(nan_checkpoint), "--out", str(tmp_path / "out"),
                                 *extra, *arguments])
    assert code == BAD_CHECKPOINT
    assert NAN_MESSAGE in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_visualize_deconv_checks_every_snapshot_before_the_figures(trained_run, tmp_path, capsys):
    checkpoint, nan_checkpoint, root = trained_run
    code = example("visualize_deconv").main(
        ["--checkpoint", str(checkpoint), "--snapshots", f"{checkpoint},{nan_checkpoint}",
         "--data", str(root), "--out", str(tmp_path / "out"), "--backend", "numpy",
         "--val-fraction", "0.5"])
    assert code == BAD_CHECKPOINT and NAN_MESSAGE in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_tune_continues_the_trial_an_interruption_left_unrecorded(data_root, tmp_path, capsys):
    """Each trial's folder is a run folder: a re-run must resume it, not be refused by it."""
    arguments = ["--data", str(data_root), "--trials", "1", "--epochs", "1", "--backend", "numpy",
                 "--out", str(tmp_path / "tune")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert example("tune_ahe").main(arguments) == 0
        first = (tmp_path / "tune" / "results.csv").read_text()
        (tmp_path / "tune" / "results.csv").unlink()   # killed before the trial was recorded
        assert example("tune_ahe").main(arguments) == 0
    assert (tmp_path / "tune" / "results.csv").read_text().splitlines()[1].split(",")[:10] == \
        first.splitlines()[1].split(",")[:10]
    assert "resumed from" in capsys.readouterr().err


def test_tune_tunes_the_network_train_ahe_trains_by_default(data_root, tmp_path):
    """Issue 20: tune_ahe.py searched only ahe_network, while train_ahe.py trains ahe_resnet."""
    arguments = ["--data", str(data_root), "--trials", "1", "--epochs", "1", "--backend", "numpy",
                 "--out", str(tmp_path / "tune")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert example("tune_ahe").main(arguments) == 0
    trial = tmp_path / "tune" / "trial-01" / "best.npz"
    model = Sequential.from_checkpoint(trial, backend="numpy")
    assert any(isinstance(layer, Residual) for layer in model.layers)
    assert read_checkpoint_meta(trial)["architecture_name"] == "ahe-resnet"
    assert example("tune_ahe").parse_arguments([]).architecture == \
        example("train_ahe").parse_arguments([]).architecture


def test_train_ahe_scores_the_test_split_inside_a_zip(tmp_path, capsys):
    """Issue 20: with --data x.zip the test split in the zip was never scored (the script
    looked for a folder x.zip/test on disk)."""
    folder = tmp_path / "unzipped"
    write_class_folders(folder / "train", per_class=6)
    write_class_folders(folder / "test", per_class=2, seed=1)
    archive = tmp_path / "ahe.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for file in sorted(folder.rglob("*")):
            zipped.write(file, f"ahe64/{file.relative_to(folder).as_posix()}")
    out = tmp_path / "run"
    assert train_ahe("--data", str(archive), "--out", str(out), *TINY_RUN) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert "test" in metrics, "the test split inside the zip was not scored"
    assert metrics["test"]["num_images"] == 6
    assert "\ntest: 6 images\n" in capsys.readouterr().out
