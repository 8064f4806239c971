"""The backend: which array library runs the maths, in which dtype, with which RNG.

A model owns one Backend and hands it to its layers. A layer computes with
``self.ops``, its backend's *table of operations*: a module that provides
every function named in ``minicnn.functional.OPERATIONS``, under the same
names and signatures. So layer code never names numpy, numba or cupy.

Backends and their tables
-------------------------
``numpy``  ``ops = minicnn.functional``: the readable maths, as plain NumPy.
``numba``  ``ops = minicnn.backend.numba_ops``: the same maths through Numba
           kernels, and convolutions in cache-sized chunks with one large GEMM
           each. Every fast path is tested equal to its readable twin.
           Creating this backend tunes the process (see ``NumbaBackend``).
``cupy``   ``ops = minicnn.backend.cupy_ops``: arrays on an NVIDIA GPU
           (``xp = cupy``), with CUDA kernels for im2col / col2im and pooling.
           Needs the optional extra: ``pip install -e ".[gpu]"``.

Choose one by argument, ``get_backend("numba")``, or with the environment
variable ``MINICNN_BACKEND``. A layer used on its own has no backend: it
computes with ``minicnn.functional`` on whatever arrays it is given.

Arrays cross between host and device only through ``to_device`` and
``to_host``. A device backend is asynchronous: reading a value on the host
(``float(loss)``, ``to_host``) waits for the GPU, so training code reads
the loss once every few steps, not once per step.

The package
-----------
    backends.py    the Backend classes and ``get_backend``
    numba_ops.py   the numba backend's table: minicnn/kernels' fast paths, and the readable
                   function where none pays
    cupy_ops.py    the cupy backend's table: the CUDA kernels of minicnn/kernels/cupy_kernels.py
                   and the readable functions run with ``xp = cupy``

A table is wiring, not maths: it only imports its functions, so go-to-definition
leads from a layer's ``self.ops.conv2d_forward`` to the code that runs.
"""
from .backends import (BACKEND_NAMES, COMMAND_LINE_BACKEND, FLOAT_DTYPES, Backend,
                       BackendUnavailable, CupyBackend, DeviceBackend, NumbaBackend,
                       command_line_backend, get_backend)

__all__ = ["BACKEND_NAMES", "COMMAND_LINE_BACKEND", "FLOAT_DTYPES", "Backend",
           "BackendUnavailable", "CupyBackend", "DeviceBackend", "NumbaBackend",
           "command_line_backend", "get_backend"]
