"""Softmax cross-entropy: correct values, stable at extreme logits."""
import math

import numpy as np
import pytest

from minicnn import SoftmaxCrossEntropy

from .conftest import device, host, on_backend


def reference_loss(logits, labels):
    """The textbook definition with Python's exact-ish math on small inputs."""
    total = 0.0
    for row, label in zip(logits.tolist(), labels.tolist()):
        top = max(row)
        log_sum = top + math.log(math.fsum(math.exp(v - top) for v in row))
        total += log_sum - row[label]
    return total / len(labels)


@pytest.mark.parametrize("scale", [1.0, 1e2, 1e4])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_stable_at_extreme_logits(scale, dtype, rng, backend_name):
    logits = (rng.standard_normal((5, 7)) * scale).astype(dtype)
    labels = rng.integers(0, 7, 5)
    layer = on_backend(SoftmaxCrossEntropy(), backend_name, dtype=dtype)
    loss = host(layer.forward(device(layer, logits), device(layer, labels)))
    dlogits = host(layer.backward())
    assert np.isfinite(loss) and np.all(np.isfinite(dlogits))
    assert loss.dtype == np.dtype(dtype) and dlogits.dtype == np.dtype(dtype)
    np.testing.assert_allclose(float(loss), reference_loss(logits.astype(np.float64), labels),
                               rtol=1e-5 if dtype == "float32" else 1e-12)
    # the gradient of each row sums to zero, and lies in [-1/N, 1/N]
    np.testing.assert_allclose(dlogits.sum(axis=1), 0, atol=1e-6)
    assert np.all(np.abs(dlogits) <= 1 / 5 + 1e-6)


def test_confident_correct_and_wrong_predictions(backend_name):
    layer = on_backend(SoftmaxCrossEntropy(), backend_name)
    logits = device(layer, [[1e4, 0.0, -1e4], [0.0, 1e4, 0.0]])
    assert host(layer.forward(logits, device(layer, [0, 1]))) == 0.0
    np.testing.assert_allclose(host(layer.backward()), 0.0, atol=1e-300)
    # a confidently wrong answer costs exactly the logit gap
    assert host(layer.forward(logits, device(layer, [1, 0]))) == pytest.approx((1e4 + 1e4) / 2)
    np.testing.assert_allclose(host(layer.backward()), [[0.5, -0.5, 0], [-0.5, 0.5, 0]])


def test_backward_scales_with_upstream_gradient(rng, backend_name):
    layer = on_backend(SoftmaxCrossEntropy(), backend_name)
    layer.forward(device(layer, rng.standard_normal((3, 4))), device(layer, [0, 1, 2]))
    np.testing.assert_allclose(host(layer.backward(np.float64(2.5))), 2.5 * host(layer.backward()))
