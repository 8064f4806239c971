"""The backend: which array library runs the maths, in which dtype, with which RNG.

A model owns one Backend and every layer reaches it as ``self.backend``, so layer
code reads like NumPy (``xp = self.backend.xp``) and never names numpy or cupy.

Backends
--------
``numpy``  the readable reference. The hot loops (the three products of a
           convolution, ReLU, max-pooling with switches, BatchNorm) run as plain
           NumPy from ``minicnn/layers/conv.py``, ``activations.py``, ``pool.py``
           and ``batchnorm.py``.
``numba``  the same maths through the fast paths of ``minicnn/kernels/``:
           Numba kernels, and convolutions in cache-sized chunks with one
           large GEMM each. Every fast path is tested equal to its NumPy twin.
``cupy``   arrays on an NVIDIA GPU (``xp = cupy``), with the CUDA kernels of
           ``minicnn/kernels/cupy_kernels.py`` for im2col / col2im and pooling.
           Needs the optional extra: ``pip install -e ".[gpu]"``.

Choose one by argument, ``get_backend("numba")``, or with the environment
variable ``MINICNN_BACKEND``.

Arrays cross between host and device only through ``to_device`` and
``to_host``. A device backend is asynchronous: reading a value on the host
(``float(loss)``, ``to_host``) waits for the GPU, so training code reads
the loss once every few steps, not once per step.
"""
import os

import numpy as np

BACKEND_NAMES = ("numpy", "numba", "cupy")


class BackendUnavailable(RuntimeError):
    """The backend asked for cannot run here (its library is missing, or no GPU)."""
FLOAT_DTYPES = ("float32", "float64")


class Backend:
    """Array module, default dtype and seeded RNG of one compute device.

    Attributes
    ----------
    name : str      "numpy", "numba", ...
    xp : module     the NumPy-compatible array module layers compute with
    dtype : dtype   default dtype for new parameters (float32 for training)
    rng             a seeded ``Generator``; *all* randomness goes through it
    """

    name = "numpy"
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

    # --- hot loops: the readable NumPy versions -------------------------
    # The numba backend overrides each of these with its fast path.
    def conv2d_forward(self, x, weight, bias, stride, padding):
        from .layers.conv import conv2d_forward
        return conv2d_forward(x, weight, bias, stride, padding)

    def conv2d_parameter_gradients(self, dout, saved, weight_shape, stride, padding, with_bias):
        from .layers.conv import conv2d_parameter_gradients
        return conv2d_parameter_gradients(dout, saved, weight_shape, stride, padding, with_bias)

    def conv2d_transpose(self, y, weight, x_shape, stride, padding):
        from .layers.conv import conv2d_transpose
        return conv2d_transpose(y, weight, x_shape, stride, padding)

    def relu_forward(self, x):
        from .layers.activations import relu_forward
        return relu_forward(x)

    def relu_backward(self, dout, mask):
        from .layers.activations import relu_backward
        return relu_backward(dout, mask)

    def batchnorm_statistics(self, x):
        from .layers.batchnorm import batchnorm_statistics
        return batchnorm_statistics(x)

    def batchnorm_normalize(self, x, mean, inv_std, gamma, beta):
        from .layers.batchnorm import batchnorm_normalize
        return batchnorm_normalize(x, mean, inv_std, gamma, beta)

    def batchnorm_backward(self, dout, x_hat, gamma, inv_std, training):
        from .layers.batchnorm import batchnorm_backward
        return batchnorm_backward(dout, x_hat, gamma, inv_std, training)

    def maxpool_forward(self, x, kernel_size, stride):
        from .layers.pool import maxpool_forward
        return maxpool_forward(x, kernel_size, stride)

    def maxpool_backward(self, dout, switches, x_shape, kernel_size, stride):
        from .layers.pool import maxpool_backward
        return maxpool_backward(dout, switches, x_shape, kernel_size, stride)


def _fast_path(name):
    """A hot-loop method that hands its arguments to ``self._kernels.<name>``, the fast path."""
    def method(self, *args):
        return getattr(self._kernels, name)(*args)
    method.__name__ = name
    method.__doc__ = f"The fast path of Backend.{name} (same arguments and result)."
    return method


class NumbaBackend(Backend):
    """NumPy arrays, with the fast paths of minicnn/kernels/ for convolution, ReLU, pooling and BatchNorm.

    Creating it tunes the whole process for training, in two ways:

    * the fast paths split their work over ``NUMBA_NUM_THREADS`` threads of
      their own, each running BLAS on one core, so BLAS is set to one thread
      (minicnn/kernels/threads.py says why);
    * freed large arrays stay in the heap for the next step instead of going
      back to the system (minicnn/kernels/allocator.py says why).
    """

    name = "numba"

    def __init__(self, seed=0, dtype="float32"):
        super().__init__(seed=seed, dtype=dtype)
        from . import kernels  # imported here so the numpy backend never needs numba
        self._kernels = kernels
        kernels.threads.use_one_blas_thread()
        kernels.allocator.keep_freed_memory()

    # the hot loops, handed to minicnn/kernels/ (same arguments as in Backend)
    conv2d_forward = _fast_path("conv2d_forward")
    conv2d_parameter_gradients = _fast_path("conv2d_parameter_gradients")
    conv2d_transpose = _fast_path("conv2d_transpose")
    relu_forward = _fast_path("relu_forward")
    relu_backward = _fast_path("relu_backward")
    batchnorm_statistics = _fast_path("batchnorm_statistics")
    batchnorm_normalize = _fast_path("batchnorm_normalize")
    batchnorm_backward = _fast_path("batchnorm_backward")
    maxpool_forward = _fast_path("maxpool_forward")
    maxpool_backward = _fast_path("maxpool_backward")


class DeviceBackend(Backend):
    """Arrays in device memory, reached through a CuPy-compatible array module ``xp``.

    The hot loops are the readable versions, run with ``xp``; ``CupyBackend``
    adds CUDA kernels. The test suite runs this class with a strict stand-in
    for CuPy (tests/fakecupy.py) to prove the engine never touches device
    arrays with NumPy and never waits for the device inside a training step.

    Randomness comes in two streams:

    * ``rng``, a NumPy generator on the host, draws the initial weights, so a
      given seed starts a model with the same weights on every backend;
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


class CupyBackend(DeviceBackend):
    """CuPy on an NVIDIA GPU: float32, cuBLAS for the GEMMs, our CUDA kernels for
    im2col / col2im and pooling (minicnn/kernels/cupy_kernels.py, each tested
    equal to its NumPy twin in tests/test_cupy_kernels.py: on a GPU with CuPy,
    and without one through a host emulation of CuPy's ElementwiseKernel).

    CuPy's memory pool (on by default) keeps freed device memory for the next
    step; ``memory_stats()`` reports it.
    """

    def __init__(self, seed=0, dtype="float32"):
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
        super().__init__(cupy, "cupy", seed=seed, dtype=dtype)
        from .kernels import cupy_kernels
        self._kernels = cupy_kernels

    def synchronize(self):
        self.xp.cuda.get_current_stream().synchronize()

    # the hot loops with CUDA kernels; ReLU and BatchNorm stay the readable xp versions
    conv2d_forward = _fast_path("conv2d_forward")
    conv2d_parameter_gradients = _fast_path("conv2d_parameter_gradients")
    conv2d_transpose = _fast_path("conv2d_transpose")
    maxpool_forward = _fast_path("maxpool_forward")
    maxpool_backward = _fast_path("maxpool_backward")


def get_backend(name=None, seed=0, dtype="float32"):
    """Make a backend by name; ``None`` reads ``$MINICNN_BACKEND`` (default "numpy")."""
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


_default_backend = None


def default_backend():
    """The backend of layers used on their own, outside any model (created lazily)."""
    global _default_backend
    if _default_backend is None:
        _default_backend = get_backend()
    return _default_backend


def set_default_backend(backend):
    """Replace the default backend (a Backend or a name)."""
    global _default_backend
    _default_backend = get_backend(backend)
    return _default_backend
