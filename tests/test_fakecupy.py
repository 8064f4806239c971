"""Tests of the strict CuPy stand-in (tests/fakecupy.py) itself.

Each rule the stand-in enforces is tested to fire, and the maths it wraps is
tested equal to NumPy's, so a test of the engine that passes on the stand-in
means what it says.
"""
import gc
import importlib
import json
import operator
import pathlib

import numpy as np
import pytest

from tests import fakecupy
from tests.conftest import NEEDS_GXX
from tests.fakecupy import count_host_syncs, forbid_float64, xp

ALLOWLIST = json.loads(pathlib.Path(fakecupy.__file__).with_name("cupy_allowlist.json").read_text())
IMPLICIT = ("Implicit conversion to a NumPy array is not allowed. "
            "Please use `.get()` to construct a NumPy array explicitly.")


@pytest.fixture
def pair():
    """The same 4x6 float32 data on the host and on the fake device."""
    host = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    return host, xp.asarray(host)


def host(value):
    return value.get() if isinstance(value, xp.ndarray) else np.asarray(value)


def public(names):
    return {name for name in names if not name.startswith("_")}


# --- the module -----------------------------------------------------------------------
def test_namespace_is_the_module_an_array_names(pair):
    _, a = pair
    assert importlib.import_module("fakecupy") is xp
    assert type(a) is xp.ndarray and type(a).__module__ == "fakecupy"
    # what the engine's array_module() does for a non-NumPy array
    assert importlib.import_module(type(a).__module__.split(".")[0]) is xp
    assert xp.get_array_module(a) is xp and xp.get_array_module(np.ones(2)) is np
    assert xp.float32 is np.float32 and a.dtype == np.float32 and a.shape == (4, 6)


def test_dir_is_within_cupy_14():
    assert public(dir(xp)) <= set(ALLOWLIST["cupy"])
    assert public(dir(xp.random)) <= set(ALLOWLIST["cupy.random"])
    assert public(dir(xp.linalg)) <= set(ALLOWLIST["cupy.linalg"])
    assert public(dir(xp.ndarray)) <= set(ALLOWLIST["cupy.ndarray"])
    assert public(dir(xp.random.Generator)) <= set(ALLOWLIST["cupy.random.Generator"])
    # the operators too: CuPy has no __index__, __round__ or __imatmul__, so neither do we
    own_specials = {name for name in vars(xp.ndarray) if name.startswith("__")}
    plumbing = {"__module__", "__doc__", "__slots__", "__weakref__", "__getattr__", "__dict__"}
    assert own_specials - plumbing <= set(ALLOWLIST["cupy.ndarray special"])
    assert {"matmul", "where", "pad", "stack", "asnumpy", "float32"} <= public(dir(xp))


@pytest.mark.parametrize("name", ["frobnicate", "float128", "errstate", "insert", "spacing"])
def test_names_absent_from_cupy_raise(name):
    assert name not in ALLOWLIST["cupy"]
    with pytest.raises(AttributeError, match=f"not in CuPy {ALLOWLIST['cupy_version']}"):
        getattr(xp, name)


def test_numpy_only_methods_raise(pair):
    _, a = pair
    rng = xp.random.default_rng(0)
    for obj, name in [(rng, "normal"), (rng, "permutation"), (rng, "choice"), (a, "resize")]:
        with pytest.raises(AttributeError, match="not in CuPy"):
            getattr(obj, name)
    with pytest.raises(TypeError):  # cupy.ndarray has no __index__
        operator.index(xp.asarray(np.int64(1)))


def test_unimplemented_cupy_names_say_so():
    with pytest.raises(AttributeError, match="not implemented by the stand-in"):
        xp.RawKernel  # noqa: B018


# --- no implicit transfers ---------------------------------------------------------------
@pytest.mark.parametrize("convert", [np.asarray, np.array, lambda a: a.__array__()])
def test_implicit_conversion_raises_cupys_error(pair, convert):
    _, a = pair
    with pytest.raises(TypeError) as error:
        convert(a)
    assert str(error.value) == IMPLICIT


@pytest.mark.parametrize("call", [np.exp, np.sum, lambda a: np.add(a, 1),
                                  lambda a: np.concatenate([a, a]), lambda a: np.matmul(a, a.T)])
def test_numpy_functions_on_device_arrays_raise(pair, call):
    _, a = pair
    with pytest.raises(TypeError, match=r"use the array module instead \(xp\."):
        call(a)


@pytest.mark.parametrize("misuse", [
    lambda a, n: a + n, lambda a, n: n + a, lambda a, n: n * a, lambda a, n: a < n,
    lambda a, n: a.__iadd__(n), lambda a, n: xp.matmul(a, n.T), lambda a, n: xp.maximum(a, n),
    lambda a, n: xp.where(a > 0, n, 0), lambda a, n: xp.stack([a, n]),
    lambda a, n: a.__setitem__(Ellipsis, n), lambda a, n: a.__setitem__((0, slice(None)), n[0]),
])
def test_numpy_arrays_as_operands_raise(pair, misuse):
    n, a = pair
    with pytest.raises(TypeError, match=r"Unsupported type <class 'numpy\.ndarray'>"):
        misuse(a, n)


def test_python_and_numpy_scalars_are_operands(pair):
    n, a = pair
    for result, expected in [(a * np.float32(2), n * np.float32(2)), (np.float32(2) * a, 2 * n),
                             (a + 1, n + 1), (2.0 - a, 2.0 - n), (a / np.float64(4), n / 4.0)]:
        np.testing.assert_allclose(host(result), expected, rtol=1e-6)
    assert (np.float32(2) * a).dtype == np.float32 and (a * 2.0).dtype == np.float32


# --- 0-d results and host syncs --------------------------------------------------------------
@pytest.mark.parametrize("reduce", [
    lambda m, a: a.sum(), lambda m, a: a.max(), lambda m, a: a.mean(), lambda m, a: a.argmax(),
    lambda m, a: a.var(), lambda m, a: m.sum(a), lambda m, a: m.max(a, axis=None),
    lambda m, a: a[0, 1], lambda m, a: a[-1][-1], lambda m, a: (a > 0).any(),
])
def test_reductions_and_elements_are_0d_device_arrays(pair, reduce):
    n, a = pair
    with count_host_syncs() as syncs:
        result = reduce(xp, a)
    assert isinstance(result, xp.ndarray) and result.shape == ()
    assert syncs.count == 0
    np.testing.assert_allclose(host(result), reduce(np, n), rtol=1e-6)


def test_element_is_a_view_as_in_cupy(pair):
    _, a = pair
    a[0, 1][...] = 5
    assert a.get()[0, 1] == 5


@pytest.mark.parametrize("transfer", [
    float, int, bool, lambda a: a.item(), lambda a: a.get(), lambda a: a.tolist(), xp.asnumpy,
    lambda a: 1 if a else 0, lambda a: f"{a:.3f}", repr,
])
def test_each_transfer_to_the_host_is_one_sync(pair, transfer):
    _, a = pair
    value = a[1, 2]
    with count_host_syncs() as syncs:
        transfer(value)
    assert syncs.count == 1


def test_boolean_mask_indexing_is_a_sync(pair):
    _, a = pair
    with count_host_syncs() as syncs:
        a[a > 0]  # noqa: B018
        a[a < 0] = 0
    assert syncs.count == 2


def test_module_level_counter(pair):
    _, a = pair
    fakecupy.reset_host_syncs()
    float(a[0, 0])
    a.get()
    assert fakecupy.host_syncs() == 2
    fakecupy.reset_host_syncs()
    assert fakecupy.host_syncs() == 0


def conv_relu_pool(m, x, w):
    """A small convolution, ReLU and 2x2 subsampling written against an array module ``m``."""
    n, c, h, width = x.shape
    padded = m.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    patches = m.stack([padded[:, :, i:i + h, j:j + width]
                       for i in range(3) for j in range(3)], axis=2)
    cols = patches.reshape(n, c * 9, h * width)
    out = m.matmul(w.reshape(w.shape[0], -1), cols).reshape(n, -1, h, width)
    out = m.where(out > 0, out, 0)
    pooled = out[:, :, ::2, ::2]
    loss = (pooled * pooled).sum(axis=(1, 2, 3)).mean()
    return pooled, loss, m.exp(-m.sqrt(pooled + 1.0)).max(axis=1)


def test_array_maths_alone_costs_no_sync_and_matches_numpy():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    expected = conv_relu_pool(np, x, w)
    x_dev, w_dev = xp.asarray(x), xp.asarray(w)
    with count_host_syncs() as syncs, forbid_float64():
        results = conv_relu_pool(xp, x_dev, w_dev)
    assert syncs.count == 0
    for result, reference in zip(results, expected):
        assert isinstance(result, xp.ndarray) and result.dtype == reference.dtype
        np.testing.assert_allclose(result.get(), reference, rtol=1e-5)


# --- float64 ban ----------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda a: a * np.float64(2.0), lambda a: xp.zeros(3), lambda a: xp.asarray(np.zeros(3)),
    lambda a: a.astype(xp.float64), lambda a: xp.arange(3.0), lambda a: a.argmax().mean(),
    lambda a: xp.random.default_rng(0).standard_normal(3),
])
def test_forbid_float64_catches_every_float64(pair, make):
    _, a = pair
    with forbid_float64(), pytest.raises(TypeError, match="float64 array created while float64"):
        make(a)
    assert make(a).dtype == np.float64  # allowed again outside the block


def test_forbid_float64_lets_float32_through(pair):
    _, a = pair
    with forbid_float64():
        assert (a * 2.0).dtype == np.float32
        assert xp.zeros(3, dtype=xp.float32).dtype == np.float32
        assert (a.sum() / a.size).dtype == np.float32
        assert xp.random.default_rng(0).random(3, dtype=xp.float32).dtype == np.float32


# --- random numbers ---------------------------------------------------------------------------
def test_rng_is_another_stream_reproducible_by_seed():
    draw = xp.random.default_rng(7).random(8)
    assert isinstance(draw, xp.ndarray)
    assert not np.allclose(draw.get(), np.random.default_rng(7).random(8))
    np.testing.assert_array_equal(draw.get(), xp.random.default_rng(7).random(8).get())
    assert not np.allclose(draw.get(), xp.random.default_rng(8).random(8).get())
    # the engine's device stream: a fresh Philox generator per (seed, draw)
    first = xp.random.Generator(xp.random.Philox4x3210([7, 0])).random((2, 3), dtype=xp.float32)
    again = xp.random.Generator(xp.random.Philox4x3210([7, 0])).random((2, 3), dtype=xp.float32)
    other = xp.random.Generator(xp.random.Philox4x3210([7, 1])).random((2, 3), dtype=xp.float32)
    assert first.dtype == np.float32 and first.shape == (2, 3)
    assert np.array_equal(first.get(), again.get()) and not np.array_equal(first.get(), other.get())


def test_rng_methods():
    rng = xp.random.default_rng(1)
    normal = rng.standard_normal((1000,), dtype=xp.float32)
    assert normal.dtype == np.float32 and abs(float(normal.mean())) < 0.1
    uniform = rng.uniform(-2, 3, size=(500,), dtype=xp.float32).get()
    assert uniform.dtype == np.float32 and uniform.min() >= -2 and uniform.max() < 3
    integers = rng.integers(0, 10, size=200).get()
    assert integers.dtype == np.int64 and set(integers) <= set(range(10))
    assert isinstance(rng.random(), xp.ndarray) and rng.random().shape == ()
    with pytest.raises(AttributeError):
        rng.bit_generator.state = {}  # in CuPy a device pointer: no checkpointing through it


# --- values -----------------------------------------------------------------------------------
OPERATIONS = [
    lambda m, a, b: m.exp(a), lambda m, a, b: m.log(m.abs(a) + 1), lambda m, a, b: m.sqrt(a * a),
    lambda m, a, b: m.maximum(a, 0), lambda m, a, b: m.matmul(a, b.T), lambda m, a, b: a @ b.T,
    lambda m, a, b: a.dot(b.T), lambda m, a, b: a.T, lambda m, a, b: a.transpose(1, 0),
    lambda m, a, b: a.reshape(-1), lambda m, a, b: a.ravel(), lambda m, a, b: a.copy(),
    lambda m, a, b: m.concatenate([a, b], axis=1), lambda m, a, b: m.stack([a, b]),
    lambda m, a, b: m.broadcast_to(a[:, :1], a.shape), lambda m, a, b: a.sum(axis=0),
    lambda m, a, b: a.mean(axis=1, keepdims=True), lambda m, a, b: a.max(axis=1),
    lambda m, a, b: a.argmax(axis=1), lambda m, a, b: a.var(axis=0),
    lambda m, a, b: a.clip(-0.5, 0.5),
    lambda m, a, b: m.where(a > b, a, b), lambda m, a, b: a[::2, 1::3], lambda m, a, b: a[[0, 2]],
    lambda m, a, b: a[m.arange(3), m.arange(3)], lambda m, a, b: a[a > 0],
    lambda m, a, b: m.pad(a, ((1, 1), (2, 0))), lambda m, a, b: m.zeros_like(a),
    lambda m, a, b: m.ones((2, 3), dtype=m.uint8), lambda m, a, b: m.empty((2, 3)).shape,
    lambda m, a, b: -a, lambda m, a, b: abs(a), lambda m, a, b: a ** 2, lambda m, a, b: a // 0.5,
    lambda m, a, b: a % 0.5, lambda m, a, b: a != b, lambda m, a, b: a.astype(m.float64),
    lambda m, a, b: len(a), lambda m, a, b: (a.ndim, a.size, a.nbytes, a.shape, a.dtype),
    lambda m, a, b: m.tensordot(a, b, axes=([1], [1])), lambda m, a, b: m.einsum("ij,kj->ik", a, b),
    lambda m, a, b: m.log(m.exp(a).sum(axis=1)), lambda m, a, b: m.split(a, 2)[1],
    lambda m, a, b: m.cumsum(a, axis=1), lambda m, a, b: m.linalg.norm(a),
]


@pytest.mark.parametrize("index", range(len(OPERATIONS)))
def test_wrapped_operations_equal_numpy(pair, index):
    n, a = pair
    nb = np.random.default_rng(1).standard_normal((4, 6)).astype(np.float32)
    operation = OPERATIONS[index]
    expected, result = operation(np, n, nb), operation(xp, a, xp.asarray(nb))
    if isinstance(expected, (np.ndarray, np.generic)):
        assert isinstance(result, xp.ndarray) and result.dtype == expected.dtype
        np.testing.assert_allclose(result.get(), expected, rtol=1e-6)
    else:
        assert result == expected


def test_in_place_updates_match_numpy(pair):
    n, a = pair
    n, a = n.copy(), a.copy()
    same = a
    for target in (n, a):
        target += 1
        target *= np.float32(0.5)
        target[:, 1] = 0
        target[1::2, ::3] = -target[1::2, ::3]
        target[[0, 3], 2] = 7.0
        target[target > 1.5] = 1.5
    assert a is same
    np.testing.assert_allclose(a.get(), n)
    a.fill(3)
    assert (a == 3).all().item()


def test_host_copies_in_and_out(pair):
    n, a = pair
    assert xp.asarray(a) is a and xp.asarray(a, dtype=xp.float32) is a
    assert xp.asarray(a, dtype=xp.float64).dtype == np.float64
    out = xp.asnumpy(a)
    assert type(out) is np.ndarray and np.array_equal(out, n)
    out[0, 0] = 100  # a copy: the device array is untouched
    assert a.get()[0, 0] == n[0, 0]
    n[0, 0] = 100  # asarray copied the host data in
    assert a.get()[0, 0] != 100


def test_memory_pool_books_live_arrays():
    gc.collect()  # no array held only by a reference cycle may be freed mid-test
    pool = xp.get_default_memory_pool()
    before = pool.used_bytes()
    big = xp.zeros((256, 1024), dtype=xp.float32)
    view = big[::2]
    assert pool.used_bytes() - before == big.nbytes  # the view shares the buffer
    assert pool.total_bytes() >= pool.used_bytes()
    del big, view
    pool.free_all_blocks()
    assert pool.used_bytes() <= before


# --- xp.ElementwiseKernel: the host emulation on device arrays -------------------------
SCALE = ("T x, raw T table, int32 shift", "T y, uint8 flag",
         "y = x * table[(i + shift) % 3]; flag = x > 0;", "scale_from_table")


@NEEDS_GXX
def test_an_elementwise_kernel_writes_into_the_device_arrays_it_is_given(pair):
    n, a = pair
    table = np.array([1.0, -2.0, 0.5], np.float32)
    y, flag = xp.empty(a.shape, xp.float32), xp.zeros(a.shape, xp.uint8)
    kernel = xp.ElementwiseKernel(*SCALE)
    with count_host_syncs() as syncs, forbid_float64():
        result = kernel(a, xp.asarray(table), 1, y, flag)
    assert syncs.count == 0
    assert result[0] is y and result[1] is flag
    np.testing.assert_array_equal(y.get(), n * table[(np.arange(n.size) + 1) % 3].reshape(n.shape))
    np.testing.assert_array_equal(flag.get(), n > 0)


@NEEDS_GXX
@pytest.mark.parametrize("misuse, error, message", [
    (lambda a, t, y, f: (a.get(), t, 0, y, f), TypeError, "Unsupported type"),
    (lambda a, t, y, f: (a, t, 0, np.empty(a.shape, np.float32), f), TypeError, "Unsupported type"),
    (lambda a, t, y, f: (a, t, 0, y), TypeError, r"takes 5 arguments \(x, table, shift, y, flag\)"),
    (lambda a, t, y, f: (a.T, t, 0, y.T, f.T), ValueError, "must be C-contiguous"),
    (lambda a, t, y, f: (a, t, 0, y.astype(xp.float64), f), TypeError, "T is float64"),
], ids=["host input", "host output", "output left out", "strided", "mixed T"])
def test_an_elementwise_kernel_refuses_host_arrays_and_what_the_emulation_cannot_run(
        pair, misuse, error, message):
    _, a = pair
    args = (a, xp.asarray(np.ones(3, np.float32)), xp.empty(a.shape, xp.float32),
            xp.zeros(a.shape, xp.uint8))
    with pytest.raises(error, match=message):
        xp.ElementwiseKernel(*SCALE)(*misuse(*args))


def test_an_elementwise_kernels_options_are_not_implemented():
    with pytest.raises(TypeError, match=r"preamble=...\): CuPy's options are not implemented"):
        xp.ElementwiseKernel(*SCALE, preamble="#define X 1")
