"""Shared fixtures: backends, seeded RNGs and the location of the real dataset."""
import pathlib

import numpy as np
import pytest

from minicnn import get_backend

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data" / "ahe64"
CPU_BACKENDS = ["numpy", "numba"]


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(params=CPU_BACKENDS)
def backend_name(request):
    return request.param


def on_backend(layer, name, dtype="float64"):
    """Put a standalone layer on a fresh backend of the given name and dtype."""
    backend = get_backend(name, seed=0, dtype=dtype)
    layer.to_backend(backend)
    layer.astype(backend.dtype)
    return layer


def distinct_values(rng, shape):
    """Random inputs with no ties and no zeros: away from every kink."""
    size = int(np.prod(shape))
    values = (rng.permutation(size) - size / 2 + 0.5) / size * 4
    return values.reshape(shape)


# worst relative error per checked layer type, printed at the end of the run
GRADCHECK_WORST = {}


def record_gradcheck(report):
    GRADCHECK_WORST[report.name] = max(GRADCHECK_WORST.get(report.name, 0.0), report.worst)


def pytest_terminal_summary(terminalreporter):
    if GRADCHECK_WORST:
        terminalreporter.section("gradient checks: worst relative error per layer (float64)")
        for name, worst in sorted(GRADCHECK_WORST.items()):
            terminalreporter.write_line(f"{name:<22}{worst:.2e}")
