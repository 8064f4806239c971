"""The benchmarks' own correctness: the networks they build, the gate before timing, the roofline's FLOPs.

The timings themselves are never asserted here (the guide: speed targets are met in
benchmarks/, not in timed unit tests); what is tested is that a benchmark measures
the network it names and refuses to time two engines that compute different things.
"""
import importlib
import importlib.util
import os
import sys

import numpy as np
import pytest

from .conftest import REPO_ROOT

BENCHMARKS = REPO_ROOT / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    """benchmarks/common.py, bench_train_step.py and bench_layers.py as modules; common.py's
    thread settings are taken back out of this process's environment afterwards."""
    environment = dict(os.environ)
    sys.path.insert(0, str(BENCHMARKS))
    try:
        modules = {name: importlib.import_module(name)
                   for name in ("common", "bench_train_step", "bench_layers", "bench_setting")}
    finally:
        sys.path.remove(str(BENCHMARKS))
        os.environ.clear()
        os.environ.update(environment)
    return modules


def test_the_ahe_networks_are_built_as_train_ahe_builds_them(bench):
    spec = importlib.util.spec_from_file_location("train_ahe", REPO_ROOT / "examples" / "train_ahe.py")
    train_ahe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_ahe)
    common = bench["common"]
    assert train_ahe.DEFAULTS["architecture"] == common.NETWORKS[0]
    assert (common.AHE_WIDTH, common.AHE_DROPOUT, common.AHE_BLOCKS) == (
        train_ahe.DEFAULTS["width"], train_ahe.DEFAULTS["dropout"], train_ahe.DEFAULTS["blocks"])


def small_batch(common, batch=3):
    return common.random_batch(batch)


@pytest.mark.parametrize("network, backend", [("ahe-resnet", "numpy"), ("ahe-resnet", "numba"),
                                              ("ahe", "numpy"), ("reference", "numpy")])
def test_the_gate_passes_when_both_engines_compute_the_same_network(bench, network, backend,
                                                                      capsys):
    pytest.importorskip("torch")
    images, labels = small_batch(bench["common"])
    bench["bench_train_step"].check_engines_agree(network, backend, images, labels)
    line = capsys.readouterr().out
    assert "parameter gradients of minicnn and PyTorch agree" in line


@pytest.mark.parametrize("network", ["ahe-resnet", "reference"])
def test_the_gate_refuses_to_time_when_one_weight_differs(bench, network, monkeypatch):
    torch = pytest.importorskip("torch")
    step = bench["bench_train_step"]
    honest_twin = step.torch_twin

    def twin_with_one_changed_bias(model):
        net, loss_function, optimizer = honest_twin(model)
        last_bias = [parameter for name, parameter in net.named_parameters()
                     if name.endswith("bias")][-1]
        with torch.no_grad():
            last_bias[0] += 0.1
        return net, loss_function, optimizer

    monkeypatch.setattr(step, "torch_twin", twin_with_one_changed_bias)
    images, labels = small_batch(bench["common"])
    with pytest.raises(SystemExit) as stopped:
        step.check_engines_agree(network, "numpy", images, labels)
    message = str(stopped.value)
    assert "nothing is timed" in message and "logits differs" in message


def forward_flop(profile, first_name):
    """The forward FLOPs of a profiled step: each row's total is 3 x forward, the first layer's 2 x."""
    return sum(flop / (2 if name == first_name else 3)
               for name, flop in profile.flop.items() if flop is not None)


def test_the_roofline_counts_the_reference_networks_flops_as_common_py_does(bench):
    common, layers = bench["common"], bench["bench_layers"]
    batch = 2
    images, labels = common.random_batch(batch)
    model, optimizer = common.minicnn_network("reference", "numpy")
    profile = layers.profile_step(model, optimizer, images, labels)
    assert forward_flop(profile, "0 Conv2D 3->32") == pytest.approx(
        common.forward_gflop_per_image() * 1e9 * batch)


def test_the_roofline_times_each_layer_of_a_residual_block_and_its_add(bench):
    common, layers = bench["common"], bench["bench_layers"]
    images, labels = common.random_batch(2)
    model, optimizer = common.minicnn_network("ahe-resnet", "numpy")
    profile = layers.profile_step(model, optimizer, images, labels)
    assert {"7.body.0 Conv2D 32->32", "7.body.1 BatchNorm2D", "7 add"} <= set(profile.timings)
    assert all(backward > 0 for name, (_, backward) in profile.timings.items()
               if name.endswith("add"))
    # 88 MFLOP per image forward (the count): convs 3x3 at 64, 32, 16, 8 px
    expected = 2 * 9 * (64 * 64 * 3 * 16 + 32 * 32 * (16 * 32 + 32 * 32)
                        + 16 * 16 * (32 * 64 + 64 * 64) + 8 * 8 * (64 * 128 + 128 * 128))
    expected += 2 * 128 * 10
    assert forward_flop(profile, "0 Conv2D 3->16") == pytest.approx(2 * expected)
    assert expected == pytest.approx(88.5e6, rel=0.01)


def test_bench_setting_reads_integers_and_powers_and_refuses_the_rest(bench):
    import argparse
    power, parser = bench["bench_setting"].power, argparse.ArgumentParser()
    assert power("2**19", parser) == 524288 and power("7", parser) == 7
    with pytest.raises(SystemExit):
        power("half", parser)
