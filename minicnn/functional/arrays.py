"""The device follows the array: find the array module (numpy, cupy, ...) that owns an array.

Every function in minicnn.functional starts with ``xp = array_module(x)`` and
then writes ``xp.zeros``, ``xp.matmul``...: the same code runs on NumPy arrays
on the CPU and on CuPy arrays on a GPU, with no backend object in sight.
"""
import importlib

import numpy


def array_module(array):
    """The array module that owns ``array``: numpy, cupy, or any module with NumPy's API.

    It is the top-level package that defines the array's type (CuPy's
    ``get_array_module`` does the same for numpy and cupy only).
    """
    package = type(array).__module__.split(".")[0]
    if package in ("numpy", "builtins"):  # builtins: a Python scalar or list
        return numpy
    return importlib.import_module(package)
