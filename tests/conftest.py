"""Shared fixtures: backends, seeded RNGs and the location of the real dataset."""
import contextlib
import pathlib

import numpy as np
import pytest

from minicnn import get_backend
from minicnn.backend import CupyBackend, DeviceBackend

from . import cuda_host

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data" / "ahe64"
CPU_BACKENDS = ["numpy", "numba"]


def _cupy_skip_reason():
    """Why real CuPy cannot run here, or None when it can."""
    try:
        import cupy
    except ImportError:
        return "CuPy is not installed (pip install -e \".[gpu]\")"
    try:
        return None if cupy.is_available() else "CuPy finds no usable GPU"
    except Exception as error:  # a broken driver install reports itself here
        return f"CuPy cannot reach a GPU: {error}"


CUPY_SKIP_REASON = _cupy_skip_reason()
# the backends on the strict CuPy stand-in of tests/fakecupy.py:
#   fakecupy  DeviceBackend: the readable functions, run with the stand-in as xp
#   fakecuda  CupyBackend itself: its table cupy_ops and its CUDA kernels, whose source
#             the stand-in's ElementwiseKernel runs on the host (tests/cuda_host.py)
STAND_IN_BACKENDS = ("fakecupy", "fakecuda")
# what fakecuda needs: the compiler of the host emulation
NEEDS_GXX = pytest.mark.skipif(cuda_host.GXX_SKIP_REASON is not None,
                               reason=str(cuda_host.GXX_SKIP_REASON))
STAND_IN_CASES = ["fakecupy", pytest.param("fakecuda", marks=NEEDS_GXX)]
# every backend the engine must run on; real cupy joins when a GPU is there
ALL_BACKENDS = CPU_BACKENDS + STAND_IN_CASES + [pytest.param(
    "cupy", marks=pytest.mark.skipif(CUPY_SKIP_REASON is not None,
                                     reason=str(CUPY_SKIP_REASON)))]


def make_backend(name, seed=0, dtype="float32"):
    """get_backend, plus the backends on the CuPy stand-in (STAND_IN_BACKENDS)."""
    if name in STAND_IN_BACKENDS:
        from . import fakecupy
        if name == "fakecuda":
            return CupyBackend(seed=seed, dtype=dtype, xp=fakecupy.xp, name=name)
        return DeviceBackend(fakecupy.xp, name, seed=seed, dtype=dtype)
    return get_backend(name, seed=seed, dtype=dtype)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(params=ALL_BACKENDS)
def backend_name(request):
    return request.param


@pytest.fixture(params=STAND_IN_CASES)
def stand_in_name(request):
    """The name of a backend on the CuPy stand-in (STAND_IN_BACKENDS)."""
    return request.param


def on_backend(layer, name, dtype="float64"):
    """Put a standalone layer on a fresh backend of the given name and dtype."""
    backend = make_backend(name, seed=0, dtype=dtype)
    layer.to_backend(backend)
    layer.astype(backend.dtype)
    return layer


def device(owner, array):
    """A host array as an array of ``owner``'s backend (owner: a layer, model or backend)."""
    backend = getattr(owner, "backend", owner)
    return backend.to_device(np.asarray(array))


def host(array):
    """Any backend's array as a NumPy array (a host read on a GPU)."""
    return array if isinstance(array, (np.ndarray, np.generic)) else array.get()


def float64_forbidden(backend_name):
    """On the CuPy stand-in: a block in which creating any float64 array is an error."""
    if backend_name not in STAND_IN_BACKENDS:
        return contextlib.nullcontext()
    from . import fakecupy
    return fakecupy.forbid_float64()


# worst relative error per checked layer type, printed at the end of the run
GRADCHECK_WORST = {}


def record_gradcheck(report):
    GRADCHECK_WORST[report.name] = max(GRADCHECK_WORST.get(report.name, 0.0), report.worst)


def pytest_terminal_summary(terminalreporter):
    if GRADCHECK_WORST:
        terminalreporter.section("gradient checks: worst relative error per layer (float64)")
        for name, worst in sorted(GRADCHECK_WORST.items()):
            terminalreporter.write_line(f"{name:<22}{worst:.2e}")
