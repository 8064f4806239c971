"""The backends: Backend (numpy), NumbaBackend, DeviceBackend and CupyBackend, and get_backend.

The package docstring (minicnn/backend/__init__.py) says what each one is for.
"""
import os

import numpy as np

from .. import functional

BACKEND_NAMES = ("numpy", "numba", "cupy")
# what the command lines (python -m minicnn, examples/) use when neither
# --backend nor $MINICNN_BACKEND says: they run real work, so the fast CPU path
COMMAND_LINE_BACKEND = "numba"


class BackendUnavailable(RuntimeError):
    """The backend asked for cannot run here (its library is missing, or no GPU)."""


FLOAT_DTYPES = ("float32", "float64")


class Backend:
    """Array module, default dtype and seeded RNG of one compute device.

    Attributes
    ----------
    name : str      "numpy", "numba", ...
    ops : module    the table of operations layers compute with
    xp : module     the NumPy-compatible array module of its arrays
    dtype : dtype   the dtype a model's parameters take (float32 for training)
    rng             a seeded ``Generator``: Dropout's masks come from it
    """

    name = "numpy"
    ops = functional
    xp = np
    # arrays live in host memory, so a value check (labels in range) costs no device sync
    host_memory = True

    def __init__(self, seed=0, dtype="float32"):
        if str(dtype) not in FLOAT_DTYPES:
            raise ValueError(f"dtype must be one of {FLOAT_DTYPES}, got {dtype!r}")
        self.dtype = np.dtype(dtype)
        self.seed(seed)

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r}, dtype={self.dtype.name})"

    # --- randomness -----------------------------------------------------
    def seed(self, seed):
        """Restart the RNG stream from ``seed``."""
        self.rng = np.random.default_rng(seed)

    def random(self, shape, dtype):
        """Uniform samples in [0, 1) as a backend array (Dropout's masks)."""
        return self.rng.random(shape, dtype=dtype)

    def get_rng_state(self):
        """A JSON-serialisable snapshot of the RNG, for exact resume."""
        return self.rng.bit_generator.state

    def set_rng_state(self, state):
        # a checkpoint saved on a device backend: its host stream continues here
        state = state.get("host", state)
        self.rng.bit_generator.state = state

    # --- moving arrays ----------------------------------------------------
    def to_device(self, array, dtype=None):
        """Host array -> backend array (the only way data enters)."""
        return np.asarray(array, dtype=dtype)

    def to_host(self, array):
        """Backend array -> NumPy array (the only way data leaves)."""
        return np.asarray(array)

    def memory_stats(self):
        """Bytes held by the backend's memory pool: {} on the host (the OS keeps the books)."""
        return {}

    def synchronize(self):
        """Wait until all queued work is done (for timing); the host never lags behind."""


class NumbaBackend(Backend):
    """NumPy arrays, with the Numba fast paths of minicnn/backend/numba_ops.py.

    Creating it tunes the whole process for training, in two ways (creating
    any other backend, a layer or a numpy model changes nothing):

    * the fast paths split their work over ``NUMBA_NUM_THREADS`` threads of
      their own, each running BLAS on one core, so BLAS is set to one thread
      (minicnn/runtime/threads.py says why);
    * freed large arrays stay in the heap for the next step instead of going
      back to the system (minicnn/runtime/allocator.py says why).
    """

    name = "numba"

    def __init__(self, seed=0, dtype="float32"):
        super().__init__(seed=seed, dtype=dtype)
        # imported here: start-up time, and the numpy backend never loads Numba
        from . import numba_ops
        from ..runtime import allocator, threads
        self.ops = numba_ops
        threads.use_one_blas_thread()
        allocator.keep_freed_memory()


class DeviceBackend(Backend):
    """Arrays in device memory, reached through a CuPy-compatible array module ``xp``.

    Its table is the readable ``minicnn.functional``, run with ``xp``;
    ``CupyBackend`` adds CUDA kernels. The test suite runs this class with a strict stand-in
    for CuPy (tests/fakecupy.py) to prove the engine never touches device
    arrays with NumPy and never waits for the device inside a training step.

    Randomness comes in two streams:

    * ``rng``, a NumPy generator on the host (it seeds the device stream when
      no seed is given);
    * the device stream behind ``random()`` (Dropout's masks). Draw k comes
      from a fresh Philox generator seeded with (seed, k): the state is two
      integers, so a checkpoint resumes the stream exactly.
    """

    host_memory = False

    def __init__(self, xp, name, seed=0, dtype="float32"):
        self.xp = xp
        self.name = name
        super().__init__(seed=seed, dtype=dtype)

    def seed(self, seed):
        self.rng = np.random.default_rng(seed)
        # no seed (fresh entropy): the device stream takes a fresh seed from the host one
        self.device_seed = int(seed) if seed is not None else int(self.rng.integers(2**63))
        self.device_draws = 0

    def random(self, shape, dtype):
        random = self.xp.random
        generator = random.Generator(random.Philox4x3210([self.device_seed, self.device_draws]))
        self.device_draws += 1
        return generator.random(shape, dtype=dtype)

    def get_rng_state(self):
        return {"host": self.rng.bit_generator.state, "device_seed": self.device_seed,
                "device_draws": self.device_draws}

    def set_rng_state(self, state):
        if "host" not in state:
            # a checkpoint from a host backend: its stream seeds the host side;
            # the device stream (which has no CPU counterpart) restarts
            self.rng.bit_generator.state = state
            self.device_draws = 0
            return
        self.rng.bit_generator.state = state["host"]
        self.device_seed = int(state["device_seed"])
        self.device_draws = int(state["device_draws"])

    def to_device(self, array, dtype=None):
        return self.xp.asarray(array, dtype=dtype)

    def to_host(self, array):
        return self.xp.asnumpy(array)

    def memory_stats(self):
        """The memory pool's books: bytes in live arrays, and bytes held from the device."""
        pool = self.xp.get_default_memory_pool()
        return {"used_bytes": int(pool.used_bytes()), "total_bytes": int(pool.total_bytes())}


def _usable_cupy():
    """The cupy module, or BackendUnavailable saying why it cannot run here."""
    try:
        import cupy
    except ImportError as error:
        raise BackendUnavailable(
            "the cupy backend needs CuPy, which is not installed: install the GPU extra "
            "with  pip install -e \".[gpu]\"  (cupy-cuda12x>=14, for CUDA 12 drivers), "
            "or use --backend numba on the CPU") from error
    if not cupy.is_available():
        raise BackendUnavailable("the cupy backend needs an NVIDIA GPU with a working CUDA driver; "
                                 "CuPy is installed but finds no usable GPU (use --backend numba)")
    return cupy


class CupyBackend(DeviceBackend):
    """CuPy on an NVIDIA GPU: float32, cuBLAS for the GEMMs, our CUDA kernels for
    im2col / col2im and pooling (the table minicnn/backend/cupy_ops.py; each
    kernel is tested equal to its NumPy twin in tests/test_cupy_kernels.py: on a
    GPU with CuPy, and without one through a host emulation of CuPy's
    ElementwiseKernel).

    CuPy's memory pool (on by default) keeps freed device memory for the next
    step; ``memory_stats()`` reports it.
    """

    def __init__(self, seed=0, dtype="float32", *, xp=None, name="cupy"):
        """``xp``: the array module; None imports CuPy and checks that it finds a GPU.
        The test suite passes its CuPy stand-in (tests/fakecupy.py), whose
        ElementwiseKernel runs the kernels' source on the host, as "fakecuda"."""
        super().__init__(_usable_cupy() if xp is None else xp, name, seed=seed, dtype=dtype)
        from . import cupy_ops
        self.ops = cupy_ops

    def synchronize(self):
        self.xp.cuda.get_current_stream().synchronize()


def get_backend(name=None, seed=0, dtype="float32"):
    """Make a backend by name; ``None`` reads ``$MINICNN_BACKEND`` (default "numpy").

    A Backend passes through unchanged.
    """
    if isinstance(name, Backend):
        return name
    if name is None:
        name = os.environ.get("MINICNN_BACKEND", "numpy")
    name = str(name).lower()
    if name == "numpy":
        return Backend(seed=seed, dtype=dtype)
    if name == "numba":
        return NumbaBackend(seed=seed, dtype=dtype)
    if name == "cupy":
        return CupyBackend(seed=seed, dtype=dtype)
    raise ValueError(f"unknown backend {name!r}: choose one of {BACKEND_NAMES}"
                     " (argument or $MINICNN_BACKEND)")


def command_line_backend():
    """The --backend default of the command lines: ``$MINICNN_BACKEND``, else COMMAND_LINE_BACKEND."""
    return os.environ.get("MINICNN_BACKEND", COMMAND_LINE_BACKEND)
