"""Choosing a backend, the tables of operations, and what a layer on its own does (and does not do)."""
import inspect
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from minicnn import Conv2D, Dense, Dropout, Sequential, functional, get_backend
from minicnn.backend import cupy_ops, numba_ops

from .conftest import REPO_ROOT


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


def test_rng_state_round_trip():
    backend = get_backend("numpy", seed=5)
    state = backend.get_rng_state()
    first = backend.rng.random(4)
    backend.set_rng_state(state)
    np.testing.assert_array_equal(backend.rng.random(4), first)


def test_dropout_mask_comes_from_the_backend_rng():
    x = np.ones((4, 100), dtype=np.float32)
    masks = []
    for _ in range(2):
        model = Sequential([Dropout(0.5)], backend=get_backend("numpy", seed=11))
        masks.append(model.forward(x))
    np.testing.assert_array_equal(masks[0], masks[1])
    other = Sequential([Dropout(0.5)], backend=get_backend("numpy", seed=12)).forward(x)
    assert not np.array_equal(masks[0], other)
    # inverted dropout: survivors are scaled by 1/(1-p), so the mean stays near 1
    assert set(np.unique(masks[0])) == {0.0, 2.0}
    dropout = model.layers[0]
    dropout.eval()
    np.testing.assert_array_equal(dropout.forward(x), x)


@pytest.mark.parametrize("table", [functional, numba_ops, cupy_ops],
                         ids=["functional", "numba_ops", "cupy_ops"])
def test_every_table_provides_every_operation_with_the_same_signature(table):
    """A layer calls self.ops.<name>: every backend's table must answer every name the same way."""
    for name in functional.OPERATIONS:
        assert hasattr(table, name), f"{table.__name__} lacks {name}"
        ours, readable = (inspect.signature(getattr(module, name)) for module in (table, functional))
        positional = [parameter for parameter in readable.parameters.values()
                      if parameter.kind is not parameter.KEYWORD_ONLY]
        assert list(ours.parameters.values())[:len(positional)] == positional, name


def test_the_layers_call_only_operations_of_the_table():
    """Every self.ops.<name> in minicnn/layers is in OPERATIONS (so every backend provides it)."""
    import re
    called = set()
    for path in (REPO_ROOT / "minicnn" / "layers").glob("*.py"):
        called |= set(re.findall(r"self\.ops\.(\w+)", path.read_text(encoding="utf-8")))
    assert called and called <= set(functional.OPERATIONS)


def test_a_layer_on_its_own_computes_with_the_readable_functions(rng):
    layer = Conv2D(3, 8, 3, rng=0)
    assert layer.backend is None and layer.ops is functional
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    out = layer.forward(x)
    assert out.shape == (2, 8, 4, 4)
    expected = functional.conv2d_naive(x, layer.params["W"], layer.params["b"])
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_layers_draw_their_weights_from_the_rng_they_are_given():
    np.testing.assert_array_equal(Conv2D(3, 4, 3, rng=5).params["W"],
                                  Conv2D(3, 4, 3, rng=5).params["W"])
    assert not np.array_equal(Conv2D(3, 4, 3, rng=5).params["W"],
                              Conv2D(3, 4, 3, rng=6).params["W"])
    shared = np.random.default_rng(0)
    first, second = Dense(4, 4, rng=shared), Dense(4, 4, rng=shared)
    assert not np.array_equal(first.params["W"], second.params["W"])


def test_weights_a_user_set_survive_sequential(backend_name):
    from .conftest import host, make_backend
    conv, dense = Conv2D(1, 2, 3), Dense(8, 2)
    conv.params["W"] = np.full((2, 1, 3, 3), 0.5, dtype=np.float32)
    dense.params["b"] = np.array([1.0, -1.0], dtype=np.float32)
    model = Sequential([conv, dense], backend=make_backend(backend_name))
    np.testing.assert_array_equal(host(model.layers[0].params["W"]), np.full((2, 1, 3, 3), 0.5))
    np.testing.assert_array_equal(host(model.layers[1].params["b"]), [1.0, -1.0])


def test_reset_parameters_is_the_explicit_reproducible_initialisation(backend_name):
    from .conftest import host, make_backend

    def build():
        return Sequential([Conv2D(1, 2, 3), Dense(8, 2)], backend=make_backend(backend_name))
    first, second = build().reset_parameters(3), build().reset_parameters(3)
    for key, value in first.params.items():
        np.testing.assert_array_equal(host(value), host(second.params[key]))
    assert not np.array_equal(host(build().reset_parameters(4).params["0.W"]),
                              host(first.params["0.W"]))


def run_python(code, **environment):
    """Run ``code`` in a fresh interpreter (process-wide settings start clean) -> its stdout."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, **environment}, cwd=REPO_ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


BLAS_AND_ALLOCATOR = """
import json, numpy as np
from threadpoolctl import threadpool_info
def blas_threads():
    return sorted(pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas")
before = blas_threads()
{action}
from minicnn.runtime import allocator
print(json.dumps({{"before": before, "after": blas_threads(), "allocator": allocator._done}}))
"""


def test_a_standalone_layer_and_a_numpy_model_leave_the_process_alone():
    """Even with MINICNN_BACKEND=numba: a layer on its own names no backend, and a model asked
    for numpy gets numpy; neither caps BLAS threads nor touches the allocator."""
    action = """
from minicnn import Conv2D, Sequential, get_backend
Conv2D(3, 4, 3).forward(np.ones((1, 3, 5, 5), dtype=np.float32))
Sequential([Conv2D(3, 4, 3)], backend="numpy").forward(np.ones((1, 3, 5, 5), dtype=np.float32))
"""
    report = json.loads(run_python(BLAS_AND_ALLOCATOR.format(action=action),
                                   MINICNN_BACKEND="numba", OPENBLAS_NUM_THREADS="2"))
    assert report["after"] == report["before"] and not report["allocator"], report


def test_a_fast_kernel_called_on_its_own_leaves_the_process_alone():
    """README: only choosing the numba backend reconfigures the process. Calling a Numba kernel
    directly (its chunks run on the worker threads) used to cap BLAS at one thread too."""
    action = """
from minicnn.kernels import conv_numba
x = np.ones((4, 3, 8, 8), dtype=np.float32)
out, cache = conv_numba.conv2d_forward(x, np.ones((5, 3, 3, 3), dtype=np.float32), None, 1, 1)
conv_numba.conv2d_parameter_gradients(np.ones_like(out), cache)
"""
    report = json.loads(run_python(BLAS_AND_ALLOCATOR.format(action=action),
                                   OPENBLAS_NUM_THREADS="2"))
    # numba may load a BLAS of its own: every BLAS in the process keeps its 2 threads
    assert report["before"] == [2] and set(report["after"]) == {2} and not report["allocator"], report


def test_choosing_the_numba_backend_does_tune_the_process():
    """The companion: the check above would see it if a layer did what the numba backend does."""
    action = "from minicnn import get_backend\nget_backend('numba')"
    report = json.loads(run_python(BLAS_AND_ALLOCATOR.format(action=action),
                                   OPENBLAS_NUM_THREADS="2"))
    assert report["before"] == [2] and report["after"] == [1] and report["allocator"], report


def test_plotting_leaves_the_matplotlib_backend_alone(tmp_path):
    """A notebook's backend survives every plot minicnn draws (no matplotlib.use, no pyplot state)."""
    code = f"""
import matplotlib
matplotlib.use("svg")
import numpy as np
from minicnn.figures.evaluation import plot_confusion_matrix, plot_curves, plot_misclassified
from minicnn.figures import visualization as plots
out = {str(tmp_path)!r}
history = [{{"epoch": 1, "train_loss": 1.0, "val_loss": 1.1, "train_accuracy": 0.5,
             "val_accuracy": 0.4, "val_macro_f1": 0.3}}]
plot_curves(history, out + "/curves.png")
plot_confusion_matrix([[1, 2], [3, 4]], ["a", "b"], out + "/confusion.png")
images = np.zeros((3, 3, 8, 8), dtype=np.uint8)
plot_misclassified(images, np.array([0, 1, 0]), np.array([1, 1, 1]), ["a", "b"], out + "/wrong.png")
plots.plot_filters(np.random.default_rng(0).standard_normal((4, 3, 3, 3)), out + "/filters.png", "w")
import sys
print(matplotlib.get_backend(), "matplotlib.pyplot" in sys.modules and
      len(sys.modules["matplotlib.pyplot"].get_fignums()))
"""
    backend, open_figures = run_python(code).split()
    assert backend == "svg" and open_figures in ("False", "0")
    assert {path.name for path in tmp_path.iterdir()} == {"curves.png", "confusion.png",
                                                          "wrong.png", "filters.png"}
