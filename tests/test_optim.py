"""Optimizers against their update formulas written out by hand, and the schedules."""
import math

import numpy as np
import pytest

from minicnn import Dense, Sequential
from minicnn.optim import (SGD, Adam, AdamW, ConstantLR, CosineLR, OneCycleLR, StepLR,
                           WarmupLR)

from .conftest import device, host, make_backend


def one_dense(backend_name="numpy", seed=0, dtype="float64"):
    return Sequential([Dense(3, 2)], backend=make_backend(backend_name, dtype=dtype)).reset_parameters(seed)


def set_grads(model, rng, dtype=np.float64):
    """Random gradients for every parameter; returns them as host arrays."""
    grads = {}
    for layer in model:
        for name, param in layer.params.items():
            grads[name] = rng.standard_normal(param.shape).astype(dtype)
            layer.grads[name] = device(model, grads[name])
    return grads


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_matches_the_formula(nesterov, rng, backend_name):
    model = one_dense(backend_name)
    W = host(model.params["0.W"]).copy()
    b = host(model.params["0.b"]).copy()
    optimizer = SGD(0.1, momentum=0.9, nesterov=nesterov, weight_decay=0.01)
    velocity = {"W": np.zeros_like(W), "b": np.zeros_like(b)}
    expected = {"W": W, "b": b}
    for _ in range(3):
        grads = set_grads(model, rng)
        for name in ("W", "b"):
            grad = grads[name] + (0.01 * expected[name] if name == "W" else 0)
            velocity[name] = 0.9 * velocity[name] + grad
            step = grad + 0.9 * velocity[name] if nesterov else velocity[name]
            expected[name] = expected[name] - 0.1 * step
        optimizer.step(model)
    np.testing.assert_allclose(host(model.params["0.W"]), expected["W"], rtol=1e-12)
    np.testing.assert_allclose(host(model.params["0.b"]), expected["b"], rtol=1e-12)


@pytest.mark.parametrize("optimizer_class, decoupled", [(Adam, False), (AdamW, True)])
def test_adam_matches_the_formula(optimizer_class, decoupled, rng, backend_name):
    model = one_dense(backend_name)
    W = host(model.params["0.W"]).copy()
    optimizer = optimizer_class(lr=0.01, weight_decay=0.1)
    first, second = np.zeros_like(W), np.zeros_like(W)
    for t in range(1, 4):
        grad = set_grads(model, rng)["W"]
        if decoupled:
            W = W - 0.01 * 0.1 * W
        else:
            grad = grad + 0.1 * W
        first = 0.9 * first + 0.1 * grad
        second = 0.999 * second + 0.001 * grad ** 2
        W = W - 0.01 * (first / (1 - 0.9 ** t)) / (np.sqrt(second / (1 - 0.999 ** t)) + 1e-8)
        optimizer.step(model)
    np.testing.assert_allclose(host(model.params["0.W"]), W, rtol=1e-10)


def test_step_without_backward_is_a_clear_error():
    with pytest.raises(RuntimeError, match="0.W has no gradient"):
        SGD(0.1).step(one_dense())


@pytest.mark.parametrize("make, message", [
    (lambda: SGD(0), "lr must be > 0"), (lambda: SGD(0.1, momentum=1.0), "momentum"),
    (lambda: SGD(0.1, nesterov=True), "nesterov"), (lambda: Adam(weight_decay=-1), "weight_decay"),
])
def test_bad_hyperparameters(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_float32_parameters_stay_float32(rng, backend_name):
    model = one_dense(backend_name, dtype="float32")
    for optimizer in (SGD(0.1, momentum=0.9, weight_decay=1e-4), AdamW(1e-3)):
        set_grads(model, rng, dtype=np.float32)
        optimizer.step(model)
        assert all(p.dtype == np.float32 for p in model.params.values())
        assert all(v.dtype == np.float32 for slots in optimizer.state.values()
                   for v in slots.values())


def test_schedules():
    assert ConstantLR(0.1)(1000) == 0.1
    step = StepLR(1.0, step_size=10, gamma=0.5)
    assert [step(0), step(9), step(10), step(25)] == [1.0, 1.0, 0.5, 0.25]
    cosine = CosineLR(1.0, total_steps=100, min_lr=0.1)
    assert cosine(0) == pytest.approx(1.0) and cosine(50) == pytest.approx(0.55)
    assert cosine(100) == pytest.approx(0.1) and cosine(150) == pytest.approx(0.1)
    warm = WarmupLR(ConstantLR(1.0), warmup_steps=4)
    assert [warm(s) for s in range(5)] == [0.25, 0.5, 0.75, 1.0, 1.0]
    cycle = OneCycleLR(1.0, total_steps=100, pct_start=0.25, div=10, final_div=1000)
    assert cycle(0) == pytest.approx(0.1) and cycle(25) == pytest.approx(1.0)
    assert cycle(99) < 0.01 and max(cycle(s) for s in range(100)) == pytest.approx(1.0)
    assert cycle(60) == pytest.approx(0.001 + 0.999 * 0.5 * (1 + math.cos(math.pi * 35 / 75)))
