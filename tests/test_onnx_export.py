"""ONNX export: onnxruntime gives minicnn's logits from plain pixels, for every network and layer.

Needs the onnx extra (onnx, onnxruntime); skipped, with the reason, without it.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason='onnx is not installed (pip install "minicnn[onnx]")')
pytest.importorskip("onnxruntime", reason='onnxruntime is not installed (pip install "minicnn[onnx]")')

from minicnn.cli.exits import BAD_CHECKPOINT  # noqa: E402
from minicnn.evaluate import predict_logits  # noqa: E402
from minicnn.interop import (UnsupportedLayer, export_onnx, onnxruntime_logits,  # noqa: E402
                             relative_difference)
from minicnn.interop.onnx_export import ONNX_CONVERTERS  # noqa: E402
from minicnn.layers import Layer, ReLU  # noqa: E402
from minicnn.models import CheckpointError, Sequential  # noqa: E402

from .classifiers import (CLASS_NAMES, MEAN, NETWORKS, STD, every_layer_network,  # noqa: E402
                          layer_types, random_pixels, real_photos, save_classifier)
from .conftest import REPO_ROOT  # noqa: E402

TOLERANCE = 1e-4   # largest logit difference / largest logit


def exported_logits(model, path, pixels, flip_average):
    export_onnx(model, path, MEAN, STD, CLASS_NAMES, flip_average=flip_average)
    return onnxruntime_logits(path, pixels.astype(np.float32))


@pytest.mark.parametrize("flip_average", [False, True], ids=["plain", "flip_average"])
@pytest.mark.parametrize("network", sorted(NETWORKS))
def test_onnxruntime_gives_minicnns_logits(network, flip_average, tmp_path):
    model = NETWORKS[network]()
    pixels = random_pixels(6)
    expected = predict_logits(model, pixels, MEAN, STD, flip_average=flip_average)
    actual = exported_logits(model, tmp_path / "model.onnx", pixels, flip_average)
    assert actual.shape == (6, len(CLASS_NAMES))
    assert relative_difference(actual, expected) < TOLERANCE
    onnx.checker.check_model(str(tmp_path / "model.onnx"), full_check=True)


def test_flip_averaging_in_the_graph_changes_the_logits(tmp_path):
    """The mirrored half of the graph is really there: the two exports disagree on asymmetric images
    (the reference network flattens its maps, so it is far from mirror-symmetric)."""
    model = NETWORKS["reference"]()
    pixels = random_pixels(4)
    plain = exported_logits(model, tmp_path / "plain.onnx", pixels, False)
    averaged = exported_logits(model, tmp_path / "averaged.onnx", pixels, True)
    assert relative_difference(averaged, plain) > 100 * TOLERANCE


def test_onnxruntime_agrees_on_real_photos(tmp_path):
    model = NETWORKS["ahe"]()
    pixels = real_photos(count_per_class=1)
    expected = predict_logits(model, pixels, MEAN, STD, flip_average=True)
    actual = exported_logits(model, tmp_path / "model.onnx", pixels, True)
    assert relative_difference(actual, expected) < TOLERANCE
    np.testing.assert_array_equal(actual.argmax(axis=1), expected.argmax(axis=1))


def test_the_network_using_every_layer_type_really_does():
    """When a layer type is added to minicnn.layers, this fails until the network (and the
    converter tables) include it."""
    assert {type(layer).__name__ for _, layer in list(every_layer_network().walk())[1:]} == \
        layer_types()
    assert set(ONNX_CONVERTERS) == layer_types()


def test_metadata_names_the_classes_and_the_input_convention(tmp_path):
    proto = export_onnx(NETWORKS["every_layer"](), tmp_path / "model.onnx", MEAN, STD,
                        CLASS_NAMES, flip_average=True)
    loaded = onnx.load(str(tmp_path / "model.onnx"))
    props = {prop.key: prop.value for prop in loaded.metadata_props}
    assert json.loads(props["class_names"]) == CLASS_NAMES
    assert "0-255" in props["input"] and "(N, 3, 64, 64)" in props["input"]
    np.testing.assert_allclose(json.loads(props["mean"]), MEAN)
    np.testing.assert_allclose(json.loads(props["std"]), STD)
    assert json.loads(props["flip_average"]) is True
    assert [value.name for value in loaded.graph.input] == ["pixels"]
    assert [value.name for value in loaded.graph.output] == ["logits"]
    assert loaded == proto


class Sigmoid(Layer):
    """A layer ONNX export has no converter for."""

    def forward(self, x):
        return 1 / (1 + self.backend.xp.exp(-x))


def test_an_unsupported_layer_is_named_and_nothing_is_written(tmp_path):
    from minicnn.layers import Conv2D, Dense, GlobalAvgPool2D
    model = Sequential([Conv2D(3, 4, 3), ReLU(), Sigmoid(), GlobalAvgPool2D(), Dense(4, 10)],
                       backend="numpy")
    with pytest.raises(UnsupportedLayer, match=r"layer 2, Sigmoid\(\).*no converter for Sigmoid"):
        export_onnx(model, tmp_path / "model.onnx", MEAN, STD, CLASS_NAMES)
    assert os.listdir(tmp_path) == []


def test_class_names_that_do_not_match_the_logits_are_an_error(tmp_path):
    with pytest.raises(CheckpointError, match="gives 10 logits per image, but there are 3 class"):
        export_onnx(NETWORKS["ahe"](), tmp_path / "model.onnx", MEAN, STD, ["a", "b", "c"])
    assert os.listdir(tmp_path) == []


def run_cli(*arguments):
    return subprocess.run([sys.executable, "-m", "minicnn", *arguments], capture_output=True,
                          text=True, cwd=REPO_ROOT)


def test_export_command_writes_a_file_onnxruntime_agrees_with(tmp_path):
    model = NETWORKS["ahe"]()
    checkpoint = save_classifier(model, tmp_path / "best.npz", flip_average=True)
    result = run_cli("export", "--checkpoint", str(checkpoint), "--onnx", str(tmp_path / "m.onnx"))
    assert result.returncode == 0, result.stderr
    assert "onnxruntime agrees with minicnn to" in result.stdout
    pixels = random_pixels(3, seed=5)
    expected = predict_logits(model, pixels, MEAN, STD, flip_average=True)
    actual = onnxruntime_logits(tmp_path / "m.onnx", pixels.astype(np.float32))
    assert relative_difference(actual, expected) < TOLERANCE


def test_export_command_needs_a_target_and_a_checkpoint(tmp_path):
    result = run_cli("export", "--checkpoint", str(tmp_path / "best.npz"))
    assert result.returncode == 2 and "export needs --onnx OUT.onnx, --torch OUT.pt" in result.stderr
    result = run_cli("export", "--checkpoint", str(tmp_path / "missing.npz"), "--onnx",
                     str(tmp_path / "m.onnx"))
    assert result.returncode == BAD_CHECKPOINT
    assert "checkpoint not found" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "m.onnx").exists()


def test_a_model_on_a_device_backend_exports_alike(tmp_path):
    """Weights on a device (fakecupy: the strict CuPy stand-in) reach the file through the backend."""
    from .conftest import make_backend
    model = NETWORKS["every_layer"]()
    device_model = NETWORKS["every_layer"]().to(make_backend("fakecupy"))
    pixels = random_pixels(2)
    np.testing.assert_array_equal(exported_logits(device_model, tmp_path / "d.onnx", pixels, True),
                                  exported_logits(model, tmp_path / "h.onnx", pixels, True))
