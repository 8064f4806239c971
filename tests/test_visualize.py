"""minicnn.visualize: unpooling, the backward walk and its three rules, receptive fields, top-9,
occlusion, class image generation and the two example scripts."""
import copy
import importlib.util
import json
import os

import numpy as np
import pytest

from minicnn import (BatchNorm2D, Conv2D, Dense, Dropout, GlobalAvgPool2D, MaxPool2D, ReLU,
                     Sequential, SoftmaxCrossEntropy)
from minicnn.models import ahe_network
from minicnn.data import ImageDataset, channel_stats, normalize
from minicnn.evaluate import predict_logits
from minicnn.gradcheck import numerical_gradient_with_kinks, rel_error
from minicnn.models import read_checkpoint_meta
from minicnn.layers import RELU_RULES
from minicnn.optim import SGD
from minicnn.train import TrainConfig, Trainer
from minicnn.visualize import (GenerationConfig, backward_walk, class_saliency, feature_layers,
                               forward_collect, forward_to, generate_class_images, occlusion_maps,
                               project, receptive_field, top_activations)
from minicnn.visualize.deconv import logits_index
from minicnn.visualize.generate import total_variation
from minicnn.visualize.images import load_png, save_png

from .conftest import REPO_ROOT, device, host, make_backend, on_backend


def float64_model(layers, seed=0, backend_name="numpy"):
    """Layers on a float64 backend, in eval mode, with non-trivial BatchNorm statistics."""
    model = Sequential(layers, backend=make_backend(backend_name, dtype="float64")).reset_parameters(seed)
    rng = np.random.default_rng(seed + 100)
    for layer in model:
        if isinstance(layer, BatchNorm2D):
            channels = layer.num_features
            layer.buffers["running_mean"] = device(model, rng.normal(0, 0.3, channels))
            layer.buffers["running_var"] = device(model, rng.uniform(0.5, 2.0, channels))
            layer.params["gamma"] = device(model, rng.uniform(0.5, 1.5, channels))
            layer.params["beta"] = device(model, rng.normal(0, 0.2, channels))
    return model.eval()


def pool_network(seed=0, backend_name="numpy"):
    """conv-BN-ReLU-pool, conv-ReLU-pool, conv-BN-ReLU, GAP, dropout, dense: every layer kind."""
    return float64_model([Conv2D(3, 4, 3, padding=1, bias=False), BatchNorm2D(4), ReLU(),
                          MaxPool2D(2), Conv2D(4, 6, 3, padding=1), ReLU(), MaxPool2D(2),
                          Conv2D(6, 5, 3, padding=1, bias=False), BatchNorm2D(5), ReLU(),
                          GlobalAvgPool2D(), Dropout(0.3), Dense(5, 4), SoftmaxCrossEntropy()],
                         seed=seed, backend_name=backend_name)


def residual_network(seed=0, backend_name="numpy"):
    """A stem, an identity-shortcut block, a projection-shortcut block (1x1 stride-2 conv + BN),
    GAP and dense: the backward walk must split and add the signal at each block."""
    from minicnn import Residual

    def body(channels_in, channels_out, stride):
        return [Conv2D(channels_in, channels_out, 3, stride=stride, padding=1, bias=False),
                BatchNorm2D(channels_out), ReLU(),
                Conv2D(channels_out, channels_out, 3, padding=1, bias=False),
                BatchNorm2D(channels_out)]
    return float64_model([Conv2D(3, 4, 3, padding=1, bias=False), BatchNorm2D(4), ReLU(),
                          Residual(body(4, 4, 1)), ReLU(),
                          Residual(body(4, 5, 2), [Conv2D(4, 5, 1, stride=2, bias=False),
                                                   BatchNorm2D(5)]), ReLU(),
                          GlobalAvgPool2D(), Dense(5, 4), SoftmaxCrossEntropy()],
                         seed=seed, backend_name=backend_name)


NETWORKS = {"pool_network": pool_network, "residual_network": residual_network}


def make_positive(model):
    """All weights and biases positive, BatchNorm shifted up: every ReLU sees f > 0 and R >= 0."""
    for layer in (layer for _, layer in model.walk() if layer.holds_arrays):
        for name, value in layer.params.items():
            layer.params[name] = abs(value) + (1.0 if name == "beta" else 0.01)
    return model


# --- unpooling ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kernel", [2, 3])
def test_unpooling_puts_each_value_at_its_switch(kernel, rng, backend_name):
    pool = on_backend(MaxPool2D(kernel), backend_name)
    x = rng.standard_normal((2, 3, 3 * kernel + 1, 4 * kernel + 1))
    pool.forward(device(pool, x))
    switches = host(pool.switches).copy()
    pooled = rng.random(switches.shape) * (rng.random(switches.shape) < 0.7)   # p >= 0, some 0
    unpooled = host(pool.unpool(device(pool, pooled)))
    assert unpooled.shape == x.shape
    for row in range(switches.shape[2]):
        for col in range(switches.shape[3]):
            window = (slice(row * kernel, (row + 1) * kernel),
                      slice(col * kernel, (col + 1) * kernel))
            flat = unpooled[(slice(None), slice(None)) + window].reshape(2, 3, -1)
            assert np.all(np.count_nonzero(flat, axis=2) <= 1)
            at_switch = np.take_along_axis(flat, switches[:, :, row, col, None].astype(int), axis=2)
            np.testing.assert_array_equal(at_switch[..., 0], pooled[:, :, row, col])
    covered = np.zeros(x.shape, dtype=bool)
    covered[:, :, :switches.shape[2] * kernel, :switches.shape[3] * kernel] = True
    assert not np.any(unpooled[~covered])
    repooled = on_backend(MaxPool2D(kernel), backend_name).forward(device(pool, unpooled))
    np.testing.assert_array_equal(host(repooled), pooled)


# --- receptive fields and projections ----------------------------------------------------------

def test_receptive_field_by_hand():
    model = float64_model([Conv2D(3, 2, 3, padding=1), ReLU(), MaxPool2D(2),
                           Conv2D(2, 2, 3, padding=1), ReLU()])
    # conv2 sees pool rows 1..3, the pool sees rows 2..7, conv1 sees rows 1..8 (likewise 3..10)
    assert tuple(int(v) for v in receptive_field(model, 4, 2, 3)) == (1, 9, 3, 11)
    assert feature_layers(model) == {"conv1": 1, "conv2": 4}


def test_feature_layers_of_the_ahe_network():
    model = ahe_network(width=4)
    names = feature_layers(model)
    conv_count = sum(isinstance(layer, Conv2D) for layer in model)
    assert list(names) == [f"conv{i}" for i in range(1, conv_count + 1)]
    assert all(isinstance(model[index], ReLU) and isinstance(model[index - 2], Conv2D)
               for index in names.values())


def support_box(projection):
    """(top, bottom, left, right) half-open box of a (3, H, W) map's non-zero pixels."""
    rows, cols = np.nonzero(np.any(projection != 0, axis=0))
    return rows.min(), rows.max() + 1, cols.min(), cols.max() + 1


def clipped(box, height, width):
    top, bottom, left, right = (int(value) for value in box)
    return max(top, 0), min(bottom, height), max(left, 0), min(right, width)


@pytest.mark.parametrize("network", NETWORKS)
@pytest.mark.parametrize("rule", RELU_RULES)
def test_projection_stays_inside_the_receptive_field(rule, network, rng, backend_name):
    model = NETWORKS[network](backend_name=backend_name)
    x = rng.standard_normal((4, 3, 20, 20))
    for name, index in feature_layers(model).items():
        maps = host(forward_to(model, device(model, x), index))
        # a live channel of each image: a unit that never fires projects to nothing at all
        channels = np.array([rng.choice(np.flatnonzero(image.max(axis=(1, 2)) > 0))
                             for image in maps])
        projections = host(project(model, device(model, x), name, device(model, channels), "max",
                                   rule))
        for image, channel, projection in zip(maps, channels, projections):
            row, col = np.unravel_index(image[channel].argmax(), image[channel].shape)
            top, bottom, left, right = clipped(receptive_field(model, name, row, col), 20, 20)
            inside = np.zeros(projection.shape, dtype=bool)
            inside[:, top:bottom, left:right] = True
            assert np.any(projection[inside]), (name, rule)
            assert not np.any(projection[~inside]), (name, rule)


def test_receptive_field_is_exact_for_a_positive_conv_stack(rng, backend_name):
    """With positive weights nothing cancels: the projection fills its receptive field exactly."""
    model = make_positive(float64_model([Conv2D(3, 2, 3, padding=1), ReLU(),
                                         Conv2D(2, 2, 5, stride=2, padding=2), ReLU(),
                                         Conv2D(2, 3, 3)], backend_name=backend_name))
    x = device(model, rng.random((1, 3, 17, 17)))
    output_shape = forward_to(model, x, 4).shape
    for row, col in [(0, 0), (3, 5), (output_shape[2] - 1, output_shape[3] - 1)]:
        where = (device(model, [row]), device(model, [col]))
        projection = host(project(model, x, 4, device(model, [1]), where))[0]
        assert support_box(projection) == clipped(receptive_field(model, 4, row, col), 17, 17)
        assert np.all(projection[:, slice(*support_box(projection)[:2]),
                                 slice(*support_box(projection)[2:])] > 0)


def test_projection_of_a_zero_activation_is_zero(rng, backend_name):
    model = pool_network(backend_name=backend_name)
    x = device(model, rng.standard_normal((1, 3, 16, 16)))
    index = feature_layers(model)["conv2"]
    maps = host(forward_to(model, x, index))
    channel, row, col = np.argwhere(maps[0] == 0)[0]
    for rule in RELU_RULES:
        where = (device(model, [row]), device(model, [col]))
        assert not np.any(host(project(model, x, index, device(model, [channel]), where, rule)))


@pytest.mark.parametrize("rule", RELU_RULES)
def test_projection_is_linear_in_a_positive_scale(rule, rng, backend_name):
    model = pool_network(backend_name=backend_name)
    x = device(model, rng.standard_normal((2, 3, 16, 16)))
    index = feature_layers(model)["conv3"]
    seed = forward_to(model, x, index) * device(model, rng.random((2, 5, 4, 4)) < 0.2)
    once = host(backward_walk(model, seed, index, rule))
    np.testing.assert_allclose(host(backward_walk(model, 3.7 * seed, index, rule)), 3.7 * once,
                               rtol=1e-12, atol=1e-15)
    assert np.any(once)


# --- the three rules ---------------------------------------------------------------------------

@pytest.mark.parametrize("rule", RELU_RULES)
def test_each_relu_applies_its_rule_to_the_recorded_tensors(rule, rng, backend_name):
    model = pool_network(backend_name=backend_name)
    x = device(model, rng.standard_normal((2, 3, 16, 16)))
    relus = [index for index, layer in enumerate(model) if isinstance(layer, ReLU)]
    *forward_inputs, _ = forward_collect(model, x, [index - 1 for index in relus] + [12])
    trace = []
    backward_walk(model, device(model, rng.standard_normal((2, 4))), 12, rule, trace=trace)
    signals = {index: (host(above), host(below)) for index, above, below in trace}
    changed = []
    for index, f in zip(relus, map(host, forward_inputs)):
        above, below = signals[index]
        expected = {"gradient": (f > 0) * above, "deconvnet": (above > 0) * above,
                    "guided": (f > 0) * (above > 0) * above}[rule]
        np.testing.assert_array_equal(below, expected)
        changed.append(np.any(below != above))
    assert all(changed)   # every ReLU had signals to block: the test can tell the rules apart


@pytest.mark.parametrize("network", NETWORKS)
def test_with_every_relu_active_the_three_rules_are_the_input_gradient(network, rng,
                                                                        backend_name):
    model = make_positive(NETWORKS[network](backend_name=backend_name))
    x = device(model, rng.random((2, 3, 16, 16)))
    classes = np.array([2, 0])
    forward_to(model, x, logits_index(model))
    input_gradient = host(model.backward(device(model, np.eye(4)[classes])))
    for rule in RELU_RULES:
        np.testing.assert_allclose(host(class_saliency(model, x, device(model, classes), rule)),
                                   input_gradient, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("network", NETWORKS)
def test_gradient_rule_is_the_numerical_gradient_of_the_class_score(network, rng, backend_name):
    model = NETWORKS[network](backend_name=backend_name)
    x = rng.standard_normal((2, 3, 12, 12))
    classes = np.array([3, 0])
    saliency = host(class_saliency(model, device(model, x), device(model, classes), "gradient"))
    numerical, kinks = numerical_gradient_with_kinks(
        lambda images: model.forward(device(model, images)), x, np.eye(4)[classes])
    assert kinks.sum() <= 2
    assert rel_error(saliency[~kinks], numerical[~kinks]) < 1e-6


def test_the_walk_leaves_grads_and_caches_alone(rng, backend_name):
    model = pool_network(backend_name=backend_name)
    x = device(model, rng.standard_normal((2, 3, 16, 16)))
    dlogits = device(model, rng.standard_normal((2, 4)))
    forward_to(model, x, 12)
    reference = host(model.backward(dlogits))
    reference_grads = {key: host(value).copy() for key, value in model.grads.items()}
    forward_to(model, x, 12)
    for rule in RELU_RULES:
        backward_walk(model, dlogits, 12, rule)
        for name, index in feature_layers(model).items():
            backward_walk(model, device(model, rng.random(model[index].mask.shape)), index, rule)
    for key, value in model.grads.items():
        np.testing.assert_array_equal(host(value), reference_grads[key])
    np.testing.assert_array_equal(host(model.backward(dlogits)), reference)


def test_a_visualization_gives_every_layer_its_own_mode_back(rng):
    """Issue 20: visualize/deconv.py switched the model to eval mode and never restored it, so
    training after a look inside ran with frozen BatchNorm statistics and no dropout."""
    model = residual_network()
    model.train()
    model.layers[1].training = False      # a layer a user froze stays frozen
    modes = [(path, layer.training) for path, layer in model.walk()]
    x = device(model, rng.standard_normal((2, 3, 16, 16)))
    project(model, x, 2, channels=[0, 1], positions="max")
    class_saliency(model, x, [0, 1], rule="guided")
    assert [(path, layer.training) for path, layer in model.walk()] == modes


# --- top-9 ---------------------------------------------------------------------------------------

def test_top_activations_equal_a_brute_force_top_k(rng, backend_name):
    model = pool_network(backend_name=backend_name)
    images = rng.integers(0, 256, (23, 3, 12, 12), dtype=np.uint8)
    images[[7, 15, 20]] = images[2]          # ties between images: the smaller index wins
    images[[4, 9]] = 128                     # flat images: ties inside a map too
    mean, std = np.full(3, 0.5), np.full(3, 0.25)
    top = top_activations(model, images, mean, std, k=9, batch_size=5)
    x = normalize(images, mean, std).astype(np.float64)
    for name, index in feature_layers(model).items():
        maps = host(forward_to(model, device(model, x), index))
        flat = maps.reshape(len(x), maps.shape[1], -1)
        peaks, where = flat.max(axis=2), flat.argmax(axis=2)
        for channel in range(maps.shape[1]):
            order = np.lexsort((np.arange(len(x)), -peaks[:, channel]))[:9]
            kept = top[name]
            np.testing.assert_array_equal(kept.images[channel], order)
            np.testing.assert_allclose(kept.values[channel], peaks[order, channel], rtol=1e-6)
            np.testing.assert_array_equal(kept.rows[channel] * maps.shape[3] + kept.cols[channel],
                                          where[order, channel])
    assert any(np.isin([2, 7], kept.images[channel]).all() for kept in top.values()
               for channel in range(len(kept.images)))


# --- a small model trained here, for occlusion and generation ----------------------------------

CLASS_COLOURS = np.array([[220, 40, 40], [40, 200, 40], [50, 60, 230], [230, 210, 40],
                          [200, 60, 220]], dtype=np.float64)
IMAGE_SIZE = 16


def stripes_dataset(count, seed):
    """10 classes: 5 colours x (horizontal or vertical stripes), on a dark background with noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 10
    stripes = (np.arange(IMAGE_SIZE) // 2 % 2).astype(np.float64)
    images = np.empty((count, 3, IMAGE_SIZE, IMAGE_SIZE))
    for index, label in enumerate(labels):
        pattern = stripes[:, None] if label % 2 == 0 else stripes[None, :]
        pattern = np.roll(np.broadcast_to(pattern, (IMAGE_SIZE, IMAGE_SIZE)), rng.integers(4),
                          axis=label % 2)
        images[index] = 30 + CLASS_COLOURS[label // 2][:, None, None] * pattern
    images += rng.normal(0, 20, images.shape)
    return np.clip(images, 0, 255).astype(np.uint8), labels.astype(np.int64)


@pytest.fixture(scope="module")
def trained():
    """(model, mean, std, images, labels): a small conv net fitted to the stripes in ~2 s."""
    images, labels = stripes_dataset(400, seed=0)
    mean, std = channel_stats(images)
    model = Sequential([Conv2D(3, 8, 3, padding=1, bias=False), BatchNorm2D(8), ReLU(),
                        MaxPool2D(2), Conv2D(8, 16, 3, padding=1, bias=False), BatchNorm2D(16),
                        ReLU(), GlobalAvgPool2D(), Dropout(0.1), Dense(16, 10),
                        SoftmaxCrossEntropy()], backend="numpy").reset_parameters(0)
    optimizer = SGD(0.05, momentum=0.9)
    x = normalize(images, mean, std)
    for step in range(150):
        batch = np.arange(step * 32, step * 32 + 32) % len(images)
        model.forward(x[batch], labels[batch])
        model.backward()
        optimizer.step(model)
    model.eval()
    accuracy = np.mean(predict_logits(model, images, mean, std).argmax(axis=1) == labels)
    assert accuracy > 0.95
    return model, mean, std, images, labels


@pytest.fixture
def trained_here(trained, backend_name):
    """The trained model, copied onto the backend under test."""
    model, *rest = trained
    return (copy.deepcopy(model).to(make_backend(backend_name)), *rest)


def test_occlusion_maps_match_occluded_copies_made_by_hand(trained_here):
    model, mean, std, images, labels = trained_here
    maps = occlusion_maps(model, images[3], labels[3], mean, std, size=6, stride=5)
    assert maps.probability.shape == maps.top_label.shape == maps.feature.shape == (3, 3)
    x = normalize(images[3][None], mean, std)
    x[:, :, 5:11, 10:16] = 0.0       # the square at row 1, column 2: the mean colour
    logits = host(model.forward(device(model, x)))[0]
    probabilities = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    assert maps.probability[1, 2] == pytest.approx(probabilities[labels[3]], rel=1e-5)
    assert maps.top_label[1, 2] == logits.argmax()
    feature = host(forward_to(model, device(model, x), maps.layer))[0, maps.channel].sum()
    assert maps.feature[1, 2] == pytest.approx(feature, rel=1e-5)


GENERATION = dict(steps=80, step_size=0.1, finish_steps=10)
SMOOTH = dict(l2_decay=0.01, blur_every=2, blur_sigma=0.7, jitter=1, tv_weight=0.2)


def test_generation_reaches_every_class_and_survives_the_png(trained_here, tmp_path):
    model, mean, std, _, _ = trained_here
    result = generate_class_images(model, mean, std, config=GenerationConfig(**GENERATION),
                                   image_size=IMAGE_SIZE)
    assert np.all(result.first_argmax_step >= 0)
    assert result.scores.shape == result.probabilities.shape
    assert 80 <= len(result.scores) <= 90 and result.scores.shape[1] == 10
    assert np.all(result.scores[-1] > result.scores[0])
    reloaded = []
    for image, label in zip(result.images, result.classes):
        save_png(image, tmp_path / f"{label}.png")
        reloaded.append(load_png(tmp_path / f"{label}.png"))
    logits = predict_logits(model, np.stack(reloaded), mean, std)
    np.testing.assert_array_equal(logits.argmax(axis=1), np.arange(10))
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(probabilities[np.arange(10), np.arange(10)],
                               result.final_probabilities, rtol=1e-5)
    assert np.all(result.final_probabilities >= 0.99)


def test_regularizers_cut_total_variation_by_a_third(trained_here):
    model, mean, std, _, _ = trained_here
    plain = generate_class_images(model, mean, std, config=GenerationConfig(**GENERATION),
                                  image_size=IMAGE_SIZE)
    smooth = generate_class_images(model, mean, std,
                                   config=GenerationConfig(**GENERATION, **SMOOTH),
                                   image_size=IMAGE_SIZE)
    plain_tv = total_variation(plain.images.astype(np.float64)).mean()
    smooth_tv = total_variation(smooth.images.astype(np.float64)).mean()
    assert smooth_tv <= 0.7 * plain_tv
    assert np.mean(smooth.first_argmax_step >= 0) >= 0.8


def test_trainer_keeps_the_snapshot_epochs(tmp_path):
    images, labels = stripes_dataset(40, seed=1)
    names = [f"class_{label}" for label in range(10)]
    dataset = ImageDataset(images, labels, names, [f"{i}.png" for i in range(40)],
                           [str(i) for i in range(40)], "memory")
    model = Sequential([Conv2D(3, 4, 3, padding=1), ReLU(), GlobalAvgPool2D(), Dense(4, 10),
                        SoftmaxCrossEntropy()], backend="numpy").reset_parameters(0)
    mean, std = channel_stats(images)
    trainer = Trainer(model, TrainConfig(epochs=3, batch_size=20), tmp_path, names, mean, std,
                      progress=False, snapshot_epochs=(1, 3))
    trainer.fit(dataset.subset(np.arange(30)), dataset.subset(np.arange(30, 40)))
    assert sorted(path.name for path in tmp_path.glob("epoch*.npz")) == ["epoch1.npz", "epoch3.npz"]
    assert read_checkpoint_meta(tmp_path / "epoch1.npz")["epoch"] == 1


# --- the example scripts, end to end on a tiny checkpoint ---------------------------------------

def run_example(name, argv):
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(argv)


@pytest.fixture(scope="module")
def checkpoint_and_data(tmp_path_factory, trained):
    """The trained model saved as the Trainer saves it, and a data folder of class folders."""
    model, mean, std, images, labels = trained
    root = tmp_path_factory.mktemp("visualize")
    class_names = [f"class_{label}" for label in range(10)]
    for index in range(60):
        folder = root / "data" / "train" / class_names[labels[index]]
        folder.mkdir(parents=True, exist_ok=True)
        save_png(images[index], folder / f"{index}.png")
    trainer = Trainer(model, TrainConfig(epochs=1), root / "run", class_names, mean, std,
                      progress=False)
    trainer.save_checkpoint(trainer.path("best.npz"))
    return root / "run" / "best.npz", root / "data"


def test_generate_class_images_example_writes_every_class(checkpoint_and_data, tmp_path, capsys):
    checkpoint, _ = checkpoint_and_data
    code = run_example("generate_class_images",
                       ["--checkpoint", str(checkpoint), "--out", str(tmp_path), "--json",
                        "--image-size", str(IMAGE_SIZE), "--steps", "60", "--animation",
                        "--backend", "numpy"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert sorted(report["classes"]) == [f"class_{label}" for label in range(10)]
    for name, row in report["classes"].items():
        assert load_png(tmp_path / f"{name}.png").shape == (3, IMAGE_SIZE, IMAGE_SIZE)
        assert 0.0 <= row["probability"] <= 1.0
    for name in ("grid.png", "history.png", "animation.gif"):
        assert (tmp_path / name).stat().st_size > 0


def test_visualize_deconv_example_writes_its_figures(checkpoint_and_data, tmp_path, monkeypatch):
    monkeypatch.setenv("MINICNN_CACHE_DIR", str(tmp_path / "cache"))
    checkpoint, data = checkpoint_and_data
    code = run_example("visualize_deconv",
                       ["--checkpoint", str(checkpoint), "--data", str(data), "--out",
                        str(tmp_path / "figures"), "--image-size", str(IMAGE_SIZE),
                        "--val-fraction", "0.5", "--channels", "2",
                        "--images-per-class", "1", "--max-classes", "2", "--backend", "numpy"])
    assert code == 0
    written = {path.name for path in (tmp_path / "figures").iterdir()}
    assert {"top9_conv1.png", "top9_conv2.png", "occlusion.png", "filters_conv1.png",
            "rules.png", "feature_maps_conv1.png", "summary.json"} <= written


def test_a_residual_block_widens_the_receptive_field_by_its_body():
    """Through a Residual the window is the union of its branches': the 3x3-conv body's, here."""
    model = residual_network()
    names = feature_layers(model)
    assert names == {"conv1": 2, "block1": 4, "block2": 6}
    # conv1: 3x3; block1 adds two 3x3 convs (the identity adds nothing): 7x7
    assert receptive_field(model, "conv1", 5, 5) == (4, 7, 4, 7)
    assert receptive_field(model, "block1", 5, 5) == (2, 9, 2, 9)
    # block2: stride 2, two 3x3 convs, the 1x1 shortcut inside: rows 2r-1-1-2 .. 2r+1+1+2
    top, bottom, left, right = receptive_field(model, "block2", 2, 2)
    assert (top, bottom) == (4 - 1 - 1 - 2 - 2, 4 + 1 + 1 + 2 + 2 + 1)


@pytest.fixture(scope="module")
def burst_data(tmp_path_factory):
    """2 classes x 10 Flickr upload bursts of 3 near ids each: a folder of tiny JPEGs."""
    from PIL import Image

    root = tmp_path_factory.mktemp("bursts") / "data"
    for burst in range(20):
        folder = root / "train" / f"class_{burst % 2}"
        folder.mkdir(parents=True, exist_ok=True)
        for member in range(3):
            photo_id = 10_000_000 + burst * 5_000_000 + member
            Image.new("RGB", (8, 8), (burst * 12, member * 80, 40)).save(
                folder / f"{photo_id}_0a1b2c3d.jpg")
    return root


@pytest.mark.parametrize("record", [
    None,                                                                   # before issue 21
    {"method": "random", "gap": None, "seed": 3, "val_fraction": 0.3},
    {"method": "grouped", "gap": 100_000, "seed": 3, "val_fraction": 0.3},
])
def test_visualize_deconv_uses_the_split_the_checkpoint_was_trained_under(burst_data, record,
                                                                           monkeypatch, tmp_path):
    """Its 'validation' images are those the run never trained on: the checkpoint's split record,
    the random split for a checkpoint without one, whatever the default split is today."""
    import argparse

    from minicnn.data import find_data_dir, load_dataset, train_validation_split

    monkeypatch.setenv("MINICNN_CACHE_DIR", str(tmp_path / "cache"))
    spec = importlib.util.spec_from_file_location("visualize_deconv",
                                                  REPO_ROOT / "examples" / "visualize_deconv.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    meta = {"class_names": ["class_0", "class_1"], "config": {"seed": 3}}
    if record is not None:
        meta["split"] = record
    arguments = argparse.Namespace(data=str(burst_data), image_size=8, val_fraction=0.3)
    val_set = module.validation_split(arguments, meta)

    dataset = load_dataset(find_data_dir(str(burst_data)), split="train", image_size=8,
                           verbose=False)
    method, gap = ("random", 100_000) if record is None else (record["method"], 100_000)
    _, expected = train_validation_split(dataset, 0.3, 3, method, gap)
    assert sorted(val_set.files) == sorted(expected.files)
    def burst(file):
        return int(os.path.basename(file).split("_")[0]) // 5_000_000

    validation = set(val_set.files)
    bursts_in_validation = {burst(file) for file in validation}
    bursts_in_training = {burst(file) for file in dataset.files if file not in validation}
    straddling = bursts_in_validation & bursts_in_training
    if method == "grouped":
        assert not straddling
    else:   # the random split of these 60 photos puts siblings on both sides
        assert straddling
