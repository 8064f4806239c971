"""Every command against a careless user's files, disks and paths (issue 25).

Each case runs a command (in this process where it can, in a child process for a
full disk or a closed stdout) and asserts its exit status (minicnn/cli/exits.py),
that stderr holds one line, ``error: ...`` naming the path and the cause, and no
traceback, and that no input file changed (a hash of every input, before and after).

Tests may run as root, who can write into a folder with no write permission: the
unwritable paths here are under /proc, where nobody can make a folder, and the
chmod cases skip for root.
"""
import errno
import hashlib
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from minicnn.cli import main as minicnn_main
from minicnn.cli.exits import (BAD_ARGUMENTS, BAD_CHECKPOINT, BAD_DATA, DONE, IO_FAILURE,
                               OUTPUT_CLOSED, PARTLY_DONE)
from minicnn.data import load_dataset
from minicnn.layers import (BatchNorm2D, Conv2D, Dense, GlobalAvgPool2D, ReLU,
                            SoftmaxCrossEntropy)
from minicnn.models import Sequential

from .conftest import REPO_ROOT
from .test_cli import example, isolated_cache  # noqa: F401  (an autouse fixture: each test its cache)
from .test_train import write_class_folders

CLASSES = ["blue", "green", "red"]
UNMAKEABLE = "/proc/minicnn-no-such-folder"   # no process can make a folder in /proc
LONG_NAME = "n" * 300                        # longer than any file system's NAME_MAX (255)


def tiny_classifier():
    """Conv, BatchNorm (random running statistics), ReLU, global pool, Dense: 3 classes."""
    model = Sequential([Conv2D(3, 4, 3, padding=1), BatchNorm2D(4), ReLU(), GlobalAvgPool2D(),
                        Dense(4, 3), SoftmaxCrossEntropy()], backend="numpy").reset_parameters(0)
    model.layers[1].buffers["running_var"] = np.random.default_rng(0).uniform(
        0.5, 2.0, 4).astype(np.float32)
    return model.eval()


def save(model, path):
    model.save(path, meta={"kind": "minicnn-classifier", "class_names": CLASSES,
                           "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25],
                           "flip_average": True, "epoch": 1, "config": {"seed": 0}})
    return path


def doctored(source, target, **changes):
    """A copy of the checkpoint ``source`` with some arrays replaced."""
    with np.load(source) as stored:
        arrays = {key: stored[key] for key in stored.files}
    for key, change in changes.items():
        arrays[key.replace("__", ".")] = change(arrays[key.replace("__", ".")])
    np.savez(target, **arrays)
    return target


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A checkpoint, doctored copies of it, a data root (train/, test/) and photos."""
    root = tmp_path_factory.mktemp("hostile")
    checkpoint = save(tiny_classifier(), root / "model.npz")

    def one_negative(variance):
        variance = variance.copy()
        variance[2] = -0.5
        return variance

    negative = doctored(checkpoint, root / "negative_var.npz", buffer__1__running_var=one_negative)
    # every array finite and in its domain, yet the logits overflow float32
    overflowing = doctored(checkpoint, root / "overflowing.npz",
                           param__1__gamma=lambda gamma: np.full_like(gamma, 1e30),
                           param__4__W=lambda weights: np.full_like(weights, 1e30))
    text = root / "notes.npz"
    text.write_text("these are my notes, not a checkpoint\n")
    loop = root / "loop.npz"
    os.symlink(loop.name, loop)
    write_class_folders(root / "data" / "train", per_class=3)
    write_class_folders(root / "data" / "test", per_class=2, seed=1)
    return {"root": root, "checkpoint": checkpoint, "negative_var": negative,
            "overflowing": overflowing, "text": text, "loop": loop, "data": root / "data",
            "photos": root / "data" / "test"}


def digest(*paths):
    """SHA-1 of every file at or under ``paths`` (by relative name), to prove nothing changed."""
    hashes = {}
    for path in map(str, paths):
        if os.path.isfile(path):
            hashes[path] = hashlib.sha1(open(path, "rb").read()).hexdigest()
        for folder, _, names in os.walk(path):
            for name in names:
                full = os.path.join(folder, name)
                if os.path.isfile(full):
                    hashes[full] = hashlib.sha1(open(full, "rb").read()).hexdigest()
    return hashes


def run(command, arguments, capsys):
    """Run a command in this process -> (exit status, stdout, stderr)."""
    try:
        if command == "minicnn":
            status = minicnn_main([str(argument) for argument in arguments])
        else:
            status = example(command).main([str(argument) for argument in arguments])
    except SystemExit as stopped:   # argparse
        status = stopped.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_error_line(stderr, *words):
    """stderr is one line, "error: ...", holding ``words``; no traceback."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    for word in words:
        assert str(word) in lines[0], (word, stderr)


# --- output paths: never an input, never another output, a folder that can be written ---------

def output_cases(files, tmp):
    """(name, command, arguments, exit status, words the one error line must hold)."""
    checkpoint = files["checkpoint"]
    link = tmp / "link.npz"
    os.symlink(checkpoint, link)
    (tmp / "a-folder").mkdir()
    common = ["--backend", "numpy"]
    return [
        ("export onnx onto the checkpoint", "minicnn",
         ["export", "--checkpoint", checkpoint, "--onnx", checkpoint], BAD_ARGUMENTS,
         ["--onnx", "same file as --checkpoint", "destroy the input"]),
        ("export torch onto ./the checkpoint", "minicnn",
         ["export", "--checkpoint", checkpoint, "--torch",
          os.path.join(os.path.dirname(checkpoint), ".", os.path.basename(checkpoint))],
         BAD_ARGUMENTS, ["--torch", "same file as --checkpoint"]),
        ("export onto a symbolic link to the checkpoint", "minicnn",
         ["export", "--checkpoint", checkpoint, "--onnx", link], BAD_ARGUMENTS,
         ["same file as --checkpoint"]),
        ("export both to one file", "minicnn",
         ["export", "--checkpoint", checkpoint, "--onnx", tmp / "m.out", "--torch", tmp / "m.out"],
         BAD_ARGUMENTS, ["--torch", "--onnx", "same file"]),
        ("export onto a folder", "minicnn",
         ["export", "--checkpoint", checkpoint, "--onnx", tmp / "a-folder"], BAD_ARGUMENTS,
         [f"--onnx {tmp / 'a-folder'} is a folder"]),
        ("export with an over-long name", "minicnn",
         ["export", "--checkpoint", checkpoint, "--onnx", tmp / (LONG_NAME + ".onnx")],
         BAD_ARGUMENTS, ["305 bytes", "limit of 255"]),
        ("export where no folder can be made", "minicnn",
         ["export", "--checkpoint", checkpoint, "--onnx", f"{UNMAKEABLE}/m.onnx"], BAD_ARGUMENTS,
         ["cannot make the folder", UNMAKEABLE]),
        ("export into an existing unwritable folder", "minicnn",
         ["export", "--checkpoint", checkpoint, "--torch", "/proc/m.pt"], BAD_ARGUMENTS,
         ["cannot write in /proc"]),
        ("predict --explain onto a file", "minicnn",
         ["predict", "--checkpoint", checkpoint, "--explain", checkpoint, files["photos"], *common],
         BAD_ARGUMENTS, ["--explain", "is a file, not a folder"]),
        ("predict --explain where no folder can be made", "minicnn",
         ["predict", "--checkpoint", checkpoint, "--explain", UNMAKEABLE, files["photos"], *common],
         BAD_ARGUMENTS, ["--explain", "cannot make the folder"]),
        ("grade --csv onto a folder", "minicnn",
         ["grade", tmp, "--csv", tmp / "a-folder"], BAD_ARGUMENTS, ["--csv", "is a folder"]),
        ("exercises where no folder can be made", "minicnn",
         ["exercises", UNMAKEABLE], BAD_ARGUMENTS, ["cannot make the folder"]),
        ("train --out where no folder can be made", "train_ahe",
         ["--data", files["data"], "--out", f"{UNMAKEABLE}/run", "--backend", "numpy"],
         BAD_ARGUMENTS, ["--out", "cannot make the folder", UNMAKEABLE]),
        ("train --out in an unwritable folder", "train_ahe",
         ["--data", files["data"], "--out", "/proc", "--backend", "numpy"],
         BAD_ARGUMENTS, ["--out", "cannot write in /proc"]),
        ("train --out with an over-long name", "train_ahe",
         ["--data", files["data"], "--out", tmp / LONG_NAME, "--backend", "numpy"],
         BAD_ARGUMENTS, ["300 bytes", "limit of 255"]),
        ("train --out inside --data", "train_ahe",
         ["--data", files["data"], "--out", files["data"] / "train", "--backend", "numpy"],
         BAD_ARGUMENTS, ["--out", "inside --data"]),
        ("train --out naming a file", "train_ahe",
         ["--data", files["data"], "--out", checkpoint, "--backend", "numpy"],
         BAD_ARGUMENTS, ["is a file"]),
        ("class images where no folder can be made", "generate_class_images",
         ["--checkpoint", checkpoint, "--out", UNMAKEABLE, "--steps", "1", *common],
         BAD_ARGUMENTS, ["--out", "cannot make the folder"]),
        ("deconv figures inside the data", "visualize_deconv",
         ["--checkpoint", checkpoint, "--data", files["data"], "--out", files["data"] / "figures",
          "--val-fraction", "0.5", *common], BAD_ARGUMENTS, ["--out", "inside --data"]),
    ]


OUTPUT_CASES = 19   # len(output_cases(...)); the cases need the fixtures' files to be built


@pytest.mark.parametrize("index", range(OUTPUT_CASES))
def test_an_output_path_is_refused_before_any_work(index, files, tmp_path, capsys):
    """Issue 25: export onto its checkpoint replaced the model with exit 0; --onnx and --torch
    to one file printed that both were written; --out under /proc and a long PNG name were
    tracebacks."""
    name, command, arguments, status, words = output_cases(files, tmp_path)[index]
    before = digest(files["root"])
    code, out, err = run(command, arguments, capsys)
    assert code == status, (name, err)
    assert_one_error_line(err, *words)
    assert digest(files["root"]) == before, name
    assert not (tmp_path / "m.out").exists()


def test_the_output_cases_are_all_run(files, tmp_path):
    assert len(output_cases(files, tmp_path)) == OUTPUT_CASES


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a folder without write permission")
def test_a_read_only_folder_is_refused(files, tmp_path, capsys):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        code, _, err = run("minicnn", ["export", "--checkpoint", files["checkpoint"], "--onnx",
                                       folder / "m.onnx"], capsys)
    finally:
        folder.chmod(0o700)
    assert code == BAD_ARGUMENTS
    assert_one_error_line(err, "cannot write in", "Permission denied")


# --- checkpoints outside their domain: one message, every command ----------------------------

def checkpoint_commands(files, checkpoint, tmp):
    common = ["--backend", "numpy"]
    return {
        "predict": ("minicnn", ["predict", "--checkpoint", checkpoint, files["photos"], *common]),
        "evaluate": ("minicnn", ["evaluate", "--checkpoint", checkpoint, "--data",
                                 files["photos"], *common]),
        "export": ("minicnn", ["export", "--checkpoint", checkpoint, "--torch", tmp / "m.pt"]),
        "class images": ("generate_class_images", ["--checkpoint", checkpoint, "--out",
                                                   tmp / "out", "--steps", "1", *common]),
        "deconv": ("visualize_deconv", ["--checkpoint", checkpoint, "--data", files["data"],
                                        "--out", tmp / "out", "--val-fraction", "0.5", *common]),
    }


BAD_CHECKPOINTS = {
    "negative_var": ["buffer.1.running_var holds 1 negative values: a variance is never "
                     "negative (first -0.5 at index 2)"],
    "overflowing": ["non-finite logits (NaN or infinity) for a probe batch of 8 images",
                    "layer 4 (Dense, holding param.4.W, param.4.b)"],
    "text": ["is not a minicnn checkpoint: a checkpoint is a .npz (zip) archive"],
    "loop": ["is a symbolic link loop"],
}


@pytest.mark.parametrize("command", ["predict", "evaluate", "export", "class images", "deconv"])
@pytest.mark.parametrize("bad", sorted(BAD_CHECKPOINTS))
def test_a_checkpoint_outside_its_domain_is_refused_by_every_command(bad, command, files, tmp_path,
                                                                     capsys):
    """Issue 25: one negative running_var printed "nan%" in predict, scored 0.3333 in evaluate
    (exit 0), and export blamed itself; a text file was reported with numpy's advice to load it
    with allow_pickle; a self-referencing link was "no such file"."""
    script, arguments = checkpoint_commands(files, files[bad], tmp_path)[command]
    before = digest(files["root"])
    code, out, err = run(script, arguments, capsys)
    assert code == BAD_CHECKPOINT, err
    assert_one_error_line(err, files[bad], *BAD_CHECKPOINTS[bad])
    assert "nan%" not in out and "pickle" not in err
    assert digest(files["root"]) == before
    assert not (tmp_path / "m.pt").exists() and not (tmp_path / "out").exists()


def test_predict_never_prints_nan_for_an_image_the_network_overflows_on(files, monkeypatch, capsys):
    """A checkpoint can pass its probe batch and still overflow on one photo: that photo is an
    error, never "nan%"."""
    from minicnn.predict import photos
    original = photos.predict_logits   # the probe batch goes through classifier.py's, unpatched
    monkeypatch.setattr(photos, "predict_logits", lambda *a, **k: original(*a, **k) * np.inf)
    code, out, err = run("minicnn", ["predict", "--checkpoint", files["checkpoint"],
                                     files["photos"] / "red" / "0.jpg", "--backend", "numpy"], capsys)
    assert code == PARTLY_DONE and "nan%" not in out
    assert "not finite" in out and err.strip() == "1 of 1 inputs could not be classified"


# --- a full disk, in a child process with a file size limit -----------------------------------

FULL_DISK = textwrap.dedent("""
    import resource, runpy, signal, sys
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # so a write past the limit raises EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
    sys.argv = {argv!r}
    if sys.argv[0] == "-m minicnn":
        from minicnn.cli import main
        sys.exit(main(sys.argv[1:]))
    runpy.run_path(sys.argv[0], run_name="__main__")
""")


def run_with_file_size_limit(argv, limit, tmp_path):
    return subprocess.run([sys.executable, "-c", FULL_DISK.format(limit=limit, argv=argv)],
                          capture_output=True, text=True, cwd=REPO_ROOT,
                          env={**os.environ, "MINICNN_CACHE_DIR": str(tmp_path / "cache")})


def test_training_onto_a_full_disk_is_one_line_and_resumable(files, tmp_path):
    """Issue 25: three chained tracebacks ending in "No space left on device"."""
    out = tmp_path / "run"
    before = digest(files["data"])
    result = run_with_file_size_limit(
        [str(REPO_ROOT / "examples" / "train_ahe.py"), "--data", str(files["data"]), "--out",
         str(out), "--epochs", "1", "--width", "2", "--batch-size", "8", "--backend", "numpy",
         "--no-progress", "--val-fraction", "0.3"], 4096, tmp_path)
    assert result.returncode == IO_FAILURE, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [result.stderr.strip().splitlines()[-1]]
    assert str(out / "best.npz") in errors[0] and os.strerror(errno.EFBIG) in errors[0]
    assert "no epoch has finished, so no checkpoint was written" in result.stderr
    assert digest(files["data"]) == before
    assert not [name for name in os.listdir(out) if name.startswith(".tmp-")]


def test_export_onto_a_full_disk_names_the_file_asked_for(files, tmp_path):
    """Issue 25: the failing export named its temporary file, .tmp-b21693214a8b654b."""
    before = digest(files["root"])
    result = run_with_file_size_limit(["-m minicnn", "export", "--checkpoint",
                                       str(files["checkpoint"]), "--torch",
                                       str(tmp_path / "m.pt")], 512, tmp_path)
    assert result.returncode == IO_FAILURE, result.stderr
    assert_one_error_line(result.stderr, f"{tmp_path / 'm.pt'}: {os.strerror(errno.EFBIG)}",
                          "ulimit -f")
    assert ".tmp-" not in result.stderr and not (tmp_path / "m.pt").exists()
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".tmp-")]
    assert digest(files["root"]) == before


def test_a_writer_that_hides_a_full_disk_behind_its_own_error_is_an_io_failure(tmp_path):
    """On a full tmpfs, torch.save's zip writer turns ENOSPC into a RuntimeError ("unexpected
    pos ..."), and export ended in a traceback."""
    from minicnn.io.atomic import atomic_write

    def write(file):
        try:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos")

    with pytest.raises(OSError) as raised:
        atomic_write(tmp_path / "m.pt", write)
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(tmp_path / "m.pt")
    assert os.listdir(tmp_path) == []
    with pytest.raises(ZeroDivisionError):   # a bug is not disguised as a full disk
        atomic_write(tmp_path / "m.pt", lambda file: 1 / 0)


def test_explain_onto_a_full_disk_names_the_png(files, tmp_path):
    """A figure written straight by matplotlib onto a full disk was "No space left on device"
    with no file named; figures are written atomically now, like every other output."""
    result = run_with_file_size_limit(["-m minicnn", "predict", "--checkpoint",
                                       str(files["checkpoint"]), "--explain", str(tmp_path / "why"),
                                       str(files["photos"] / "red" / "0.jpg"), "--backend", "numpy"],
                                      2048, tmp_path)
    assert result.returncode == IO_FAILURE, result.stderr
    assert_one_error_line(result.stderr, str(tmp_path / "why"), ".png:",
                          os.strerror(errno.EFBIG))
    assert os.listdir(tmp_path / "why") == []


# --- a closed stdout --------------------------------------------------------------------------

def test_predict_into_a_closed_pipe_stops_quietly(files):
    """Issue 25: `predict CKPT FOLDER | head -3` ended with a BrokenPipeError traceback."""
    child = subprocess.Popen([sys.executable, "-m", "minicnn", "predict", "--checkpoint",
                              str(files["checkpoint"]), str(files["photos"]), "--backend",
                              "numpy"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             cwd=REPO_ROOT)
    child.stdout.close()   # the reader is gone before the first line: `| head -0`
    stderr = child.stderr.read().decode()
    assert child.wait(timeout=60) == OUTPUT_CLOSED
    assert stderr == ""


# --- data: unreadable folders, nested images, skipped files, stale caches ----------------------

def test_evaluate_on_a_missing_folder_has_no_download_advice(files, tmp_path, capsys):
    code, out, err = run("minicnn", ["evaluate", "--checkpoint", files["checkpoint"], "--data",
                                     tmp_path / "nowhere", "--backend", "numpy"], capsys)
    assert code == BAD_DATA and out == ""
    assert_one_error_line(err, tmp_path / "nowhere", "does not exist")
    assert "kaggle" not in err.lower()


def test_evaluate_on_an_unreadable_class_folder_is_one_line(files, tmp_path, monkeypatch, capsys):
    """Issue 25: a PermissionError traceback. (Root reads any folder, so the refusal is
    made by os.scandir itself, as it is for any other user.)"""
    data = tmp_path / "data"
    write_class_folders(data, per_class=2)
    real_scandir = os.scandir

    def scandir(path="."):
        if os.fspath(path) == str(data / "green"):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    code, _, err = run("minicnn", ["evaluate", "--checkpoint", files["checkpoint"], "--data", data,
                                   "--backend", "numpy"], capsys)
    assert code == BAD_DATA
    assert_one_error_line(err, f"cannot read the folder {data / 'green'}: Permission denied")


def test_evaluate_walks_nested_folders_and_lists_what_it_skipped(files, tmp_path, capsys):
    """Issue 25: images in a class folder's subfolders were ignored without a word, and skipped
    files came as raw UserWarning lines that the JSON did not list."""
    data = tmp_path / "data"
    write_class_folders(data, per_class=2)
    (data / "red" / "2024" / "june").mkdir(parents=True)
    (data / "red" / "0.jpg").rename(data / "red" / "2024" / "june" / "0.jpg")
    (data / "red" / "notes.txt").write_text("not an image")
    os.symlink("nowhere.jpg", data / "blue" / "gone.jpg")
    code, out, err = run("minicnn", ["evaluate", "--checkpoint", files["checkpoint"], "--data",
                                     data, "--json", "--backend", "numpy"], capsys)
    assert code == DONE, err
    report = json.loads(out)
    assert report["num_images"] == 6
    assert report["skipped"] == [
        {"file": "blue/gone.jpg", "reason": "a dangling symbolic link"},
        {"file": "red/notes.txt", "reason": "not an image format PIL can read"}]
    assert err.splitlines() == ["warning: skipped blue/gone.jpg (a dangling symbolic link)",
                                "warning: skipped red/notes.txt (not an image format PIL can read)"]


def test_a_decompression_bomb_is_a_clean_refusal(files, tmp_path, monkeypatch, capsys):
    """Issue 25: a 10000x10000 image brought Pillow's raw DecompressionBombWarning (with its
    source line), then a decode of 100 million pixels. The limit is lowered here so that a
    64x64 photo is "too large": the same path through Pillow, without 300 MB of pixels."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 3000)   # 64 * 64 = 4096: a warning, not yet
    code, out, err = run("minicnn", ["predict", "--checkpoint", files["checkpoint"],
                                     files["photos"] / "red" / "0.jpg", "--backend", "numpy"], capsys)
    assert code == PARTLY_DONE
    assert "error: too many pixels to decode safely (Image size (4096 pixels) exceeds limit of " \
           "3000 pixels" in out
    assert "DecompressionBombWarning" not in err and "Warning" not in out


def test_a_symbolic_link_loop_is_named_as_one(files, tmp_path, capsys):
    os.symlink("self.jpg", tmp_path / "self.jpg")
    code, out, _ = run("minicnn", ["predict", "--checkpoint", files["checkpoint"],
                                   tmp_path / "self.jpg", "--backend", "numpy"], capsys)
    assert code == PARTLY_DONE and "is a symbolic link loop" in out


def bitmap(path, colour):
    """A 16x16 BMP of one colour: every such file has the same size in bytes (822)."""
    Image.fromarray(np.full((16, 16, 3), colour, dtype=np.uint8)).save(path, format="BMP")


def test_the_cache_sees_new_pixels_under_the_old_size_and_time(tmp_path):
    """Issue 25: replacing images by others of the same byte size, keeping the modification
    time (cp -p, rsync -a, tar x), and the cache served the old pixels."""
    data = tmp_path / "data"
    for name, colour in (("apse", (200, 0, 0)), ("vault", (0, 0, 200))):
        (data / name).mkdir(parents=True)
        for index in range(3):
            bitmap(data / name / f"{index}.bmp", colour)
    first = load_dataset(data, image_size=16, cache_dir=tmp_path / "cache", verbose=False)
    assert first.report.cache == "miss"
    for index in range(3):   # as cp -p does: the same file rewritten, its time put back
        path = data / "apse" / f"{index}.bmp"
        status = path.stat()
        replacement = (data / "vault" / "0.bmp").read_bytes()
        assert len(replacement) == status.st_size
        path.write_bytes(replacement)
        os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
        assert path.stat().st_mtime_ns == status.st_mtime_ns
    again = load_dataset(data, image_size=16, cache_dir=tmp_path / "cache", verbose=False)
    assert again.report.cache == "miss"
    apse = again.images[again.labels == 0]
    assert np.all(apse[:, 2] == 200) and np.all(apse[:, 0] == 0)
    assert load_dataset(data, image_size=16, cache_dir=tmp_path / "cache",
                        verbose=False).report.cache == "hit"


# --- predict --explain: long names, and never over an input ---------------------------------

def test_explain_shortens_a_long_name_and_answers_every_image(files, tmp_path, capsys):
    """Issue 25: a deep photo path became a PNG name over 255 bytes: "File name too long", a
    traceback, and nothing printed for the images already explained."""
    deep = tmp_path / ("d" * 120) / ("e" * 120)
    deep.mkdir(parents=True)
    photo = deep / "photo.jpg"
    photo.write_bytes((files["photos"] / "red" / "0.jpg").read_bytes())
    other = tmp_path / "short.jpg"
    other.write_bytes((files["photos"] / "blue" / "0.jpg").read_bytes())
    code, out, err = run("minicnn", ["predict", "--checkpoint", files["checkpoint"], "--explain",
                                     tmp_path / "why", photo, other, "--backend", "numpy"], capsys)
    assert code == DONE, err
    written = sorted(os.listdir(tmp_path / "why"))
    assert len(written) == 2 and all(len(name.encode()) <= 255 for name in written)
    assert any(name.endswith("_photo.jpg.png") for name in written)
    assert out.count("explained in") == 2


def test_explain_never_writes_over_an_input(files, tmp_path, monkeypatch, capsys):
    """The PNG for photo.jpg is named photo.jpg.png: when that is itself one of the photos, the
    explanation takes another name."""
    monkeypatch.chdir(tmp_path)
    Image.open(files["photos"] / "red" / "0.jpg").save(tmp_path / "photo.jpg")
    Image.open(files["photos"] / "blue" / "0.jpg").save(tmp_path / "photo.jpg.png")
    before = digest(tmp_path / "photo.jpg", tmp_path / "photo.jpg.png")
    code, out, err = run("minicnn", ["predict", "--checkpoint", files["checkpoint"], "--explain",
                                     ".", "photo.jpg", "photo.jpg.png", "--backend", "numpy"], capsys)
    assert code == DONE, err
    assert digest(tmp_path / "photo.jpg", tmp_path / "photo.jpg.png") == before
    assert "explained in photo.jpg-2.png" in out


# --- resume: strict about everything that shapes training ---------------------------------------

TINY_RUN = ["--epochs", "1", "--width", "2", "--batch-size", "8", "--backend", "numpy",
            "--no-progress", "--val-fraction", "0.3"]


@pytest.fixture(scope="module")
def one_epoch_run(files, tmp_path_factory):
    out = tmp_path_factory.mktemp("resume") / "run"
    assert example("train_ahe").main(["--data", str(files["data"]), "--out", str(out),
                                      *TINY_RUN]) == DONE
    return out


@pytest.mark.parametrize("option, value, old, new", [
    ("--weight-decay", "0.01", "weight_decay=0.00025", "weight_decay=0.01"),
    ("--max-shift", "2", "max_shift=6", "max_shift=2"),
    ("--color-jitter", "0", "color_jitter=0.2", "color_jitter=0.0"),
    ("--no-flip-average", None, "flip_average=True", "flip_average=False"),
])
def test_resume_refuses_a_change_that_shapes_training(option, value, old, new, one_epoch_run,
                                                      files, capsys):
    """Issue 25: --resume --weight-decay 0.01 continued silently, and the checkpoint then said
    the whole run used 0.01."""
    before = digest(one_epoch_run)
    code, _, err = run("train_ahe", ["--data", files["data"], "--out", one_epoch_run, *TINY_RUN,
                                     "--epochs", "2", "--resume", option,
                                     *([value] if value else [])], capsys)
    assert code == BAD_CHECKPOINT, err
    error = err.strip().splitlines()[-1]
    assert error.startswith("error: cannot resume") and old in error and new in error
    assert "Traceback" not in err
    assert digest(one_epoch_run) == before


def test_best_without_last_is_told_the_same_both_ways(one_epoch_run, files, tmp_path, capsys):
    """Issue 25: without --resume, "continue with --resume"; with it, "no checkpoint"."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "best.npz").write_bytes((one_epoch_run / "best.npz").read_bytes())
    messages = []
    for resume in ([], ["--resume"]):
        code, _, err = run("train_ahe", ["--data", files["data"], "--out", out, *TINY_RUN,
                                         *resume], capsys)
        assert code == BAD_ARGUMENTS
        assert_one_error_line(err, "holds a run (best.npz) but no last.npz", "cannot be resumed",
                              f"--out {out}-2")
        messages.append(err)
    assert messages[0] == messages[1] and "with --resume" not in messages[0]


def test_snapshot_epochs_beyond_the_run_are_refused(files, tmp_path, capsys):
    code, _, err = run("train_ahe", ["--data", files["data"], "--out", tmp_path / "run", *TINY_RUN,
                                     "--snapshot-epochs", "1,99"], capsys)
    assert code == BAD_ARGUMENTS
    assert "argument --snapshot-epochs: epoch 99 is beyond the run's 1 epochs" in err
    assert not (tmp_path / "run").exists()
