"""predict: from image files to the top classes, as the training images were seen.

The expected probabilities are computed here from first principles (decode,
normalise, forward, mirror, softmax), not through the code under test.
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from minicnn.cli.exits import BAD_CHECKPOINT
from minicnn.predict import Classifier
from minicnn.data import load_dataset
from minicnn.evaluate import predict_logits
from minicnn.functional import softmax
from minicnn.models import CheckpointError
from minicnn.predict.photos import expand_paths, predict_paths, read_image

from .classifiers import (CLASS_NAMES, MEAN, NETWORKS, STD, random_pixels, real_photo_paths,
                          save_classifier)
from .conftest import REPO_ROOT


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A random-weight every-layer classifier (10 classes) saved with flip averaging on."""
    folder = tmp_path_factory.mktemp("checkpoint")
    return save_classifier(NETWORKS["every_layer"](), folder / "best.npz", flip_average=True)


def write_photo(path, mode="RGB", size=(64, 64), seed=0, format_name=None):
    """An asymmetric photo (a gradient plus noise) in any mode, written as JPEG or PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = random_pixels(1, seed=seed, size=max(size))[0].transpose(1, 2, 0)[:size[1], :size[0]]
    image = Image.fromarray(np.ascontiguousarray(pixels))
    image = Image.fromarray((np.asarray(image.convert("L"), dtype=np.uint16) * 257)) \
        if mode == "I;16" else image.convert(mode)
    image.save(path, format=format_name)
    return path


def expected_probabilities(path, flip_average=True):
    """Decode with Pillow directly, then normalise, forward, mirror and softmax by hand."""
    with Image.open(path) as image:
        if image.mode == "I;16":
            image = Image.fromarray(np.rint(np.asarray(image) / 257).astype(np.uint8))
        # README: a larger photo is shrunk with Lanczos, a smaller one enlarged bilinearly
        shrinks = image.size[0] > 64 or image.size[1] > 64
        method = Image.Resampling.LANCZOS if shrinks else Image.Resampling.BILINEAR
        pixels = np.asarray(image.convert("RGB").resize((64, 64), method))
    x = (pixels.transpose(2, 0, 1)[None].astype(np.float32) / np.float32(255)
         - MEAN[:, None, None]) / STD[:, None, None]
    model = NETWORKS["every_layer"]()
    logits = model.forward(x.astype(np.float32))
    if flip_average:
        logits = (logits + model.forward(x[:, :, :, ::-1].copy())) / 2
    shifted = np.exp(logits[0].astype(np.float64) - logits[0].max())
    return shifted / shifted.sum()


def test_each_photo_gets_its_top_classes(checkpoint, tmp_path):
    photos = [write_photo(tmp_path / "a.jpg", seed=1),
              write_photo(tmp_path / "b.png", mode="RGBA", seed=2),
              write_photo(tmp_path / "c.png", mode="I;16", seed=3),
              write_photo(tmp_path / "d.jpg", mode="CMYK", seed=4),
              write_photo(tmp_path / "e.jpg", size=(300, 200), seed=5)]
    classifier = Classifier.load(checkpoint)
    results = list(predict_paths(classifier, [str(path) for path in photos], top=4))
    assert [result["path"] for result in results] == [str(path) for path in photos]
    for path, result in zip(photos, results):
        probabilities = expected_probabilities(path)
        order = np.argsort(-probabilities)[:4]
        assert [entry["class"] for entry in result["top"]] == [CLASS_NAMES[i] for i in order]
        np.testing.assert_allclose([entry["probability"] for entry in result["top"]],
                                   probabilities[order], atol=2e-6)


def test_flip_averaging_follows_the_checkpoint_unless_overridden(checkpoint, tmp_path):
    photo = write_photo(tmp_path / "a.png", seed=7)
    classifier = Classifier.load(checkpoint)
    for flip_average in (True, False):
        override = None if flip_average else False
        [result] = predict_paths(classifier, [str(photo)], top=10, flip_average=override)
        by_class = {entry["class"]: entry["probability"] for entry in result["top"]}
        np.testing.assert_allclose([by_class[name] for name in CLASS_NAMES],
                                   expected_probabilities(photo, flip_average), atol=2e-6)


def test_top_k_is_sorted_and_at_most_every_class(checkpoint, tmp_path):
    photo = write_photo(tmp_path / "a.png")
    [result] = predict_paths(Classifier.load(checkpoint), [str(photo)], top=50)
    probabilities = [entry["probability"] for entry in result["top"]]
    assert len(probabilities) == len(CLASS_NAMES) and probabilities == sorted(probabilities)[::-1]
    assert sum(probabilities) == pytest.approx(1.0, abs=1e-5)


def test_folders_are_searched_recursively_for_images_only(tmp_path):
    write_photo(tmp_path / "photos" / "b.jpg")
    write_photo(tmp_path / "photos" / "a.png")
    write_photo(tmp_path / "photos" / "nested" / "c.JPEG", format_name="JPEG")
    write_photo(tmp_path / "photos" / ".hidden" / "d.jpg")
    write_photo(tmp_path / "photos" / ".e.jpg")
    (tmp_path / "photos" / "notes.txt").write_text("not an image")
    (tmp_path / "empty").mkdir()
    given = [str(tmp_path / "photos"), str(tmp_path / "photos" / "notes.txt"),
             str(tmp_path / "empty"), str(tmp_path / "missing.jpg")]
    inputs = expand_paths(given)
    assert [item.shown for item in inputs] == [
        os.path.join(given[0], "a.png"), os.path.join(given[0], "b.jpg"),
        os.path.join(given[0], "nested", "c.JPEG"), given[1], given[2], given[3]]
    assert [item.error for item in inputs[:4]] == [None] * 4   # a file named is always tried
    assert "no image files" in inputs[4].error and "no such file" in inputs[5].error


def test_a_fifo_or_a_dangling_link_is_named_not_read(tmp_path):
    """Reading a FIFO blocks until something writes to it: predict hung on one."""
    write_photo(tmp_path / "photos" / "a.jpg")
    os.mkfifo(tmp_path / "photos" / "pipe.png")
    (tmp_path / "photos" / "gone.jpg").symlink_to(tmp_path / "nowhere.jpg")
    inputs = expand_paths([str(tmp_path / "photos"), str(tmp_path / "photos" / "pipe.png")])
    assert [(os.path.basename(item.shown), item.error) for item in inputs] == [
        ("a.jpg", None), ("gone.jpg", "not a file: a dangling symbolic link"),
        ("pipe.png", "not a file: a FIFO"), ("pipe.png", "not a file: a FIFO")]


def test_paths_that_flatten_to_one_name_get_distinct_explanations():
    from minicnn.predict.explain import explanation_path
    taken = set()
    names = [explanation_path("out", shown, taken).name
             for shown in ("photos/apse.jpg", "photos_apse.jpg", "../photos/apse.jpg", "a b.jpg",
                           "a_b.jpg")]
    assert names == ["photos_apse.jpg.png", "photos_apse.jpg-2.png", "photos_apse.jpg-3.png",
                     "a_b.jpg.png", "a_b.jpg-2.png"]


def test_unreadable_files_get_an_error_and_the_others_an_answer(checkpoint, tmp_path):
    good = write_photo(tmp_path / "good.jpg")
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(np.random.default_rng(0).bytes(300))
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(write_photo(tmp_path / "whole.png").read_bytes()[:200])
    results = list(predict_paths(Classifier.load(checkpoint),
                                 [str(corrupt), str(good), str(truncated)]))
    assert results[0] == {"path": str(corrupt), "error": "not an image format PIL can read"}
    assert "top" in results[1] and "error" not in results[1]
    assert "error" in results[2] and "top" not in results[2]


def test_chunks_give_the_same_answers(checkpoint, tmp_path):
    for index in range(5):
        write_photo(tmp_path / f"{index}.png", seed=index)
    classifier = Classifier.load(checkpoint)
    whole = list(predict_paths(classifier, [str(tmp_path)], batch_size=256))
    chunked = list(predict_paths(classifier, [str(tmp_path)], batch_size=2))
    assert len(whole) == 5 and [r["path"] for r in chunked] == [r["path"] for r in whole]
    for one, other in zip(chunked, whole):   # a batch of another size rounds a little differently
        assert [entry["class"] for entry in one["top"]] == [entry["class"] for entry in other["top"]]
        np.testing.assert_allclose([entry["probability"] for entry in one["top"]],
                                   [entry["probability"] for entry in other["top"]], atol=1e-5)


def test_real_photos_are_seen_exactly_as_the_loader_sees_them(checkpoint, tmp_path, monkeypatch):
    """The same files through load_dataset + predict_logits (evaluate's path) and through predict."""
    monkeypatch.setenv("MINICNN_CACHE_DIR", str(tmp_path / "cache"))
    for path in real_photo_paths(count_per_class=1):
        class_folder = tmp_path / "split" / path.parent.name
        class_folder.mkdir(parents=True)
        shutil.copy(path, class_folder / path.name)
    dataset = load_dataset(tmp_path / "split", verbose=False)
    classifier = Classifier.load(checkpoint)
    loader_probabilities = softmax(predict_logits(
        classifier.model, dataset.images, MEAN, STD, flip_average=True).astype(np.float64))
    results = list(predict_paths(classifier, [str(tmp_path / "split")], top=10))
    assert len(results) == len(dataset) == 10
    for row, result in zip(loader_probabilities, results):
        by_class = {entry["class"]: entry["probability"] for entry in result["top"]}
        np.testing.assert_allclose([by_class[name] for name in CLASS_NAMES], row, atol=1e-6)
    np.testing.assert_array_equal(
        np.stack([read_image(tmp_path / "split" / name) for name in dataset.files]), dataset.images)


def test_a_checkpoint_whose_classes_do_not_match_its_network_is_refused(tmp_path):
    save_classifier(NETWORKS["every_layer"](), tmp_path / "best.npz", class_names=["a", "b"])
    with pytest.raises(CheckpointError, match="names 2 classes but its model has 10 outputs"):
        Classifier.load(tmp_path / "best.npz")


def test_a_network_without_one_logit_per_class_is_refused(tmp_path):
    from minicnn import Conv2D, GlobalAvgPool2D, Sequential
    # 10 output channels at 64x64: shape[1] matches 10 classes, but these are maps, not logits
    maps = Sequential([Conv2D(3, len(CLASS_NAMES), 3, padding=1, rng=0)])
    save_classifier(maps, tmp_path / "maps.npz")
    with pytest.raises(CheckpointError, match=r"outputs of shape \(10, 64, 64\) per image"):
        Classifier.load(tmp_path / "maps.npz")
    pooled = Sequential([Conv2D(3, len(CLASS_NAMES), 3, padding=1, rng=0), GlobalAvgPool2D()])
    save_classifier(pooled, tmp_path / "pooled.npz")
    assert Classifier.load(tmp_path / "pooled.npz").class_names == CLASS_NAMES


def test_evaluate_refuses_a_network_that_does_not_take_64_pixel_images(tmp_path):
    from minicnn import Dense, Flatten, Sequential
    save_classifier(Sequential([Flatten(), Dense(3 * 32 * 32, len(CLASS_NAMES), rng=0)]),
                    tmp_path / "small.npz")
    for name in CLASS_NAMES[:2]:
        write_photo(tmp_path / "data" / name / "a.png")
    result = subprocess.run([sys.executable, "-m", "minicnn", "evaluate", "--checkpoint",
                             str(tmp_path / "small.npz"), "--data", str(tmp_path / "data"),
                             "--backend", "numpy"], capture_output=True, text=True, cwd=REPO_ROOT)
    assert result.returncode == BAD_CHECKPOINT, result.stderr
    assert "does not take 64x64 RGB images" in result.stderr
    assert "Traceback" not in result.stderr


def run_predict(*arguments):
    return subprocess.run([sys.executable, "-m", "minicnn", "predict", *arguments],
                          capture_output=True, text=True, cwd=REPO_ROOT)


def test_the_command_prints_json_and_fails_when_one_file_does(checkpoint, tmp_path):
    good = write_photo(tmp_path / "good.jpg")
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG not really")
    result = run_predict("--checkpoint", str(checkpoint), str(good), str(corrupt), "--json",
                         "--top", "2")
    assert result.returncode == 1
    assert "1 of 2 inputs could not be classified" in result.stderr
    answers = json.loads(result.stdout)
    assert [answer["path"] for answer in answers] == [str(good), str(corrupt)]
    assert [entry["class"] for entry in answers[0]["top"]] == \
        [CLASS_NAMES[i] for i in np.argsort(-expected_probabilities(good))[:2]]
    assert set(answers[1]) == {"path", "error"}

    text = run_predict("--checkpoint", str(checkpoint), str(good))
    assert text.returncode == 0 and text.stdout.startswith(f"{good}\n")
    assert len(text.stdout.splitlines()) == 4   # the path, then the top 3


@pytest.mark.parametrize("arguments, message", [
    (["--top", "0"], "argument --top: must be an integer >= 1, got 0"),
    (["--top", "two"], "argument --top: must be an integer >= 1, got 'two'"),
    (["--backend", "tpu"], "argument --backend: invalid choice: 'tpu'"),
    (["--batch-size", "-3"], "argument --batch-size: must be an integer >= 1"),
])
def test_bad_arguments_are_named(checkpoint, tmp_path, arguments, message):
    result = run_predict("--checkpoint", str(checkpoint), str(tmp_path), *arguments)
    assert result.returncode == 2 and message in result.stderr


def test_a_bad_checkpoint_is_its_exit_status(tmp_path):
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    result = run_predict("--checkpoint", str(tmp_path / "broken.npz"), str(tmp_path))
    assert result.returncode == BAD_CHECKPOINT
    assert "is not a minicnn checkpoint" in result.stderr and "Traceback" not in result.stderr
    assert "pickle" not in result.stderr   # numpy's advice to load it unsafely is never passed on


EXPLAIN_SCRIPT = """
import json, sys
from minicnn.cli.exits import BAD_CHECKPOINT
from minicnn.predict import Classifier
from minicnn.predict import predict_paths
results = list(predict_paths(Classifier.load(sys.argv[1]), sys.argv[3:], explain_dir=sys.argv[2]))
print(json.dumps({"results": results, "pyplot_loaded": "matplotlib.pyplot" in sys.modules}))
"""


def test_explain_writes_one_figure_per_photo_without_pyplot(checkpoint, tmp_path):
    photos = [str(write_photo(tmp_path / "in" / "a.jpg")),
              str(write_photo(tmp_path / "in" / "sub" / "a.jpg", seed=3))]
    result = subprocess.run([sys.executable, "-c", EXPLAIN_SCRIPT, str(checkpoint),
                             str(tmp_path / "out"), *photos],
                            capture_output=True, text=True, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["pyplot_loaded"] is False
    figures = [answer["explanation"] for answer in report["results"]]
    assert len(set(figures)) == 2   # same file name, different folders: two figures
    for figure in figures:
        with Image.open(figure) as image:
            assert image.format == "PNG" and image.width > 2.5 * image.height


def test_predict_and_explain_run_on_a_device_backend(checkpoint, tmp_path):
    """On fakecupy (the strict CuPy stand-in) predict gives the numpy backend's answers, and
    --explain draws its figure: every device array crosses to the host explicitly."""
    from .conftest import make_backend
    photos = [str(write_photo(tmp_path / f"{index}.png", seed=index)) for index in range(3)]
    on_numpy = list(predict_paths(Classifier.load(checkpoint), photos, top=10))
    on_device = list(predict_paths(Classifier.load(checkpoint, backend=make_backend("fakecupy")),
                                   photos, top=10, explain_dir=tmp_path / "explain"))
    for numpy_result, device_result in zip(on_numpy, on_device):
        assert [e["class"] for e in device_result["top"]] == [e["class"] for e in numpy_result["top"]]
        np.testing.assert_allclose([e["probability"] for e in device_result["top"]],
                                   [e["probability"] for e in numpy_result["top"]], atol=1e-5)
        assert os.path.getsize(device_result["explanation"]) > 10_000
