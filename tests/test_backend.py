"""Choosing a backend, and the default backend of a layer used on its own."""
import numpy as np
import pytest

import minicnn
from minicnn import Conv2D, get_backend


def test_backend_by_argument_and_environment(monkeypatch):
    assert get_backend("numba").name == "numba"
    monkeypatch.setenv("MINICNN_BACKEND", "numba")
    assert get_backend().name == "numba"
    monkeypatch.setenv("MINICNN_BACKEND", "numpy")
    assert get_backend().name == "numpy"


def test_unknown_backend_names_the_choices():
    with pytest.raises(ValueError, match=r"unknown backend 'tpu'.*numpy.*numba"):
        get_backend("tpu")


def test_bad_dtype_is_rejected():
    with pytest.raises(ValueError, match="float16"):
        get_backend("numpy", dtype="float16")


def test_standalone_layer_uses_the_default_backend(rng):
    layer = Conv2D(3, 8, 3)
    assert layer.backend is minicnn.default_backend()
    out = layer.forward(rng.standard_normal((2, 3, 6, 6)).astype(np.float32))
    assert out.shape == (2, 8, 4, 4)


def test_rng_state_round_trip():
    backend = get_backend("numpy", seed=5)
    state = backend.get_rng_state()
    first = backend.rng.random(4)
    backend.set_rng_state(state)
    np.testing.assert_array_equal(backend.rng.random(4), first)


def test_dropout_mask_comes_from_the_backend_rng(rng):
    from minicnn import Dropout, Sequential
    x = np.ones((4, 100), dtype=np.float32)
    masks = []
    for _ in range(2):
        model = Sequential([Dropout(0.5)], backend="numpy", seed=11)
        masks.append(model.forward(x))
    np.testing.assert_array_equal(masks[0], masks[1])
    other = Sequential([Dropout(0.5)], backend="numpy", seed=12).forward(x)
    assert not np.array_equal(masks[0], other)
    # inverted dropout: survivors are scaled by 1/(1-p), so the mean stays near 1
    assert set(np.unique(masks[0])) == {0.0, 2.0}
    Dropout_layer = model.layers[0]
    Dropout_layer.eval()
    np.testing.assert_array_equal(Dropout_layer.forward(x), x)
