"""The PyTorch bridge: same function, same weights (bit for bit), both ways; the .pt file.

Needs the torch extra; skipped, with the reason, without it.
"""
import json
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason='PyTorch is not installed (pip install "minicnn[torch]")')
nn = torch.nn

from minicnn.data import normalize  # noqa: E402
from minicnn.interop import (UnsupportedLayer, from_torch, load_torch, load_torch_meta,  # noqa: E402
                             relative_difference, save_torch, to_torch)
from minicnn.interop.torch_bridge import TO_TORCH, GlobalAvgPool2d  # noqa: E402
from minicnn.layers import BatchNorm2D, Conv2D, Dense, Layer, ReLU  # noqa: E402
from minicnn.models import Sequential  # noqa: E402

from .classifiers import (MEAN, NETWORKS, STD, layer_types, random_pixels,  # noqa: E402
                          real_photos, save_classifier)
from .conftest import REPO_ROOT  # noqa: E402

TOLERANCE = 1e-4   # largest logit difference / largest logit


def torch_logits(module, x):
    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


def normalised(count=4, seed=0):
    return normalize(random_pixels(count, seed=seed), MEAN, STD)


def assert_same_weights(a, b):
    """Every parameter and buffer equal, bit for bit, under the same keys."""
    assert a.architecture() == b.architecture()
    for mine, theirs in ((a.params, b.params), (a.buffers, b.buffers)):
        assert mine.keys() == theirs.keys()
        for key in mine:
            assert mine[key].dtype == theirs[key].dtype, key
            np.testing.assert_array_equal(mine[key], theirs[key], err_msg=key)


@pytest.mark.parametrize("network", sorted(NETWORKS))
def test_to_torch_computes_the_same_logits_in_eval_mode(network):
    model = NETWORKS[network]()
    module = to_torch(model)
    assert not module.training
    x = normalised()
    assert relative_difference(torch_logits(module, x), model.forward(x)) < TOLERANCE


@pytest.mark.parametrize("network", sorted(NETWORKS))
def test_the_round_trip_gives_identical_weights(network):
    model = NETWORKS[network]()
    back = from_torch(to_torch(model))
    assert_same_weights(back, model)
    x = normalised()
    np.testing.assert_array_equal(back.forward(x), model.forward(x))


def test_torch_agrees_on_real_photos():
    model = NETWORKS["ahe"]()
    x = normalize(real_photos(count_per_class=1), MEAN, STD)
    logits = model.forward(x)
    torch_output = torch_logits(to_torch(model), x)
    assert relative_difference(torch_output, logits) < TOLERANCE
    np.testing.assert_array_equal(torch_output.argmax(axis=1), logits.argmax(axis=1))


def test_the_mode_carries_over_and_batchnorm_statistics_update_alike():
    """In training mode both update running_mean and the unbiased running_var the same way."""
    model = NETWORKS["every_layer"]().train()
    module = to_torch(model)
    assert module.training
    x = normalised(8, seed=3)
    model.forward(x)
    with torch.no_grad():
        module(torch.from_numpy(x))
    for key in ("running_mean", "running_var"):
        np.testing.assert_allclose(getattr(module[1], key).numpy(), model.layers[1].buffers[key],
                                   rtol=1e-5, atol=1e-6)
    assert from_torch(module).training


def test_from_torch_takes_a_module_written_in_pytorch():
    torch.manual_seed(0)
    module = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(inplace=True),
                           nn.MaxPool2d(2), nn.Sequential(nn.Conv2d(4, 4, 3, stride=2, bias=False),
                                                          nn.ReLU()),
                           nn.Flatten(), nn.Dropout(0.1), nn.Linear(4 * 15 * 15, 5), nn.Identity())
    with torch.no_grad():
        module[1].running_mean.uniform_(-0.5, 0.5)
        module[1].running_var.uniform_(0.5, 2.0)
    module.eval()
    model = from_torch(module, backend="numpy")
    assert [type(layer).__name__ for layer in model.layers] == [
        "Conv2D", "BatchNorm2D", "ReLU", "MaxPool2D", "Conv2D", "ReLU", "Flatten", "Dropout",
        "Dense", "SoftmaxCrossEntropy"]
    x = normalised(3)
    assert relative_difference(model.forward(x), torch_logits(module, x)) < TOLERANCE
    np.testing.assert_array_equal(model.params["8.W"], module[7].weight.detach().numpy().T)
    assert from_torch(module, loss=False).loss_layer is None


def test_the_tables_cover_every_layer_type():
    assert set(TO_TORCH) == layer_types()


class Sigmoid(Layer):
    def forward(self, x):
        return 1 / (1 + self.backend.xp.exp(-x))


@pytest.mark.parametrize("module, message", [
    (nn.Sequential(nn.Conv2d(3, 4, 3), nn.Sigmoid()), r"module 1, Sigmoid\(\).*no converter for Sigmoid"),
    (nn.Sequential(nn.Conv2d(3, 4, 3, dilation=2)), r"module 0, .*dilation=\(2, 2\)"),
    (nn.Sequential(nn.Conv2d(4, 4, 3, groups=2)), "groups=2"),
    (nn.Sequential(nn.Conv2d(3, 4, (3, 5))), r"square, whole-number kernel_size, got \(3, 5\)"),
    (nn.Sequential(nn.Conv2d(3, 4, 3, padding="same")), "padding"),
    (nn.Sequential(nn.MaxPool2d(2, ceil_mode=True)), "ceil_mode=True"),
    (nn.Sequential(nn.Linear(3, 2, bias=False)), "always has a bias"),
    (nn.Sequential(nn.BatchNorm2d(3, momentum=None)), "momentum=None"),
    (nn.Sequential(nn.Sequential(nn.Tanh())), r"module 0\.0, Tanh\(\)"),
], ids=["sigmoid", "dilation", "groups", "rectangular", "same-padding", "ceil-mode",
        "linear-without-bias", "cumulative-batchnorm", "nested"])
def test_modules_minicnn_cannot_express_are_named(module, message):
    with pytest.raises(UnsupportedLayer, match=message):
        from_torch(module)


def test_to_torch_names_an_unsupported_layer():
    model = Sequential([Conv2D(3, 4, 3), Sigmoid()], backend="numpy")
    with pytest.raises(UnsupportedLayer, match=r"layer 1, Sigmoid\(\)"):
        to_torch(model)


def test_global_average_pooling_is_the_mean_of_each_map():
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5)
    np.testing.assert_array_equal(GlobalAvgPool2d()(x).numpy(), x.numpy().mean(axis=(2, 3)))


def test_a_float64_model_stays_float64_and_exact():
    model = Sequential([Conv2D(3, 2, 3), BatchNorm2D(2), ReLU()], backend="numpy").astype("float64")
    module = to_torch(model)
    assert module[0].weight.dtype == torch.float64
    np.testing.assert_array_equal(module[0].weight.detach().numpy(), model.layers[0].params["W"])


def test_the_file_loads_with_weights_only_and_rebuilds_the_module(tmp_path):
    model = NETWORKS["reference"]()
    save_torch(model, tmp_path / "model.pt", meta={"class_names": ["a", "b"], "mean": [0.5]})
    contents = torch.load(tmp_path / "model.pt", weights_only=True)
    assert set(contents) == {"format", "architecture", "meta", "state_dict"}
    assert json.loads(contents["architecture"]) == model.architecture()
    assert load_torch_meta(tmp_path / "model.pt") == {"class_names": ["a", "b"], "mean": [0.5]}
    module = load_torch(tmp_path / "model.pt")
    assert not module.training
    x = normalised()
    np.testing.assert_array_equal(torch_logits(module, x), torch_logits(to_torch(model), x))
    assert_same_weights(from_torch(module), model)


def test_a_file_from_elsewhere_is_rejected(tmp_path):
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not written by minicnn's save_torch"):
        load_torch(tmp_path / "other.pt")


def test_export_command_writes_the_torch_file(tmp_path):
    model = NETWORKS["ahe"]()
    checkpoint = save_classifier(model, tmp_path / "best.npz")
    result = subprocess.run([sys.executable, "-m", "minicnn", "export", "--checkpoint",
                             str(checkpoint), "--torch", str(tmp_path / "m.pt")],
                            capture_output=True, text=True, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    assert "the reloaded module agrees with minicnn to" in result.stdout
    meta = load_torch_meta(tmp_path / "m.pt")
    assert meta["class_names"][:2] == ["altar", "apse"]
    np.testing.assert_allclose(meta["mean"], MEAN)
    assert_same_weights(from_torch(load_torch(tmp_path / "m.pt")), model)


def test_export_says_when_the_file_disagrees_with_minicnn(tmp_path, monkeypatch, capsys):
    """A converter that broke (here: a stand-in difference of 3%) is reported, exit status 1."""
    import minicnn.interop.verify
    from minicnn.cli import main
    checkpoint = save_classifier(NETWORKS["ahe"](), tmp_path / "best.npz")
    monkeypatch.setattr(minicnn.interop.verify, "relative_difference", lambda actual, reference: 0.03)
    assert main(["export", "--checkpoint", str(checkpoint), "--torch", str(tmp_path / "m.pt")]) == 1
    error = capsys.readouterr().err
    assert "the reloaded module DISAGREES with minicnn: 3.0e-02 of the largest logit" in error


def test_a_model_on_a_device_backend_crosses_over_alike():
    """The bridge reads device weights through the backend (fakecupy: the strict CuPy stand-in)."""
    from .conftest import make_backend
    model = NETWORKS["every_layer"]()
    device = make_backend("fakecupy")
    module = to_torch(from_torch(to_torch(model), backend=device))
    for key, value in to_torch(model).state_dict().items():
        torch.testing.assert_close(module.state_dict()[key], value, rtol=0, atol=0)
