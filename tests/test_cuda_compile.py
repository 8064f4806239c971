"""Compile checks: the CUDA kernels build for the GPU, and a broken kernel fails to.

nvcc compiles every kernel of minicnn/kernels/cupy_kernels.py, wrapped as CuPy wraps an
ElementwiseKernel (tests/cuda_host.py: ``cuda_module``), for the A100's and the H100's
architectures (sm_80, sm_90) with T = float and double, all in one module per
architecture. CuPy compiles with NVRTC, which takes the same CUDA C++; nvcc is what the
toolkit on CI machines has. This catches device-side syntax and type errors; whether the
kernels compute the right values is tests/test_cupy_kernels.py's part.
"""
from typing import NamedTuple

import numpy as np
import pytest

from minicnn.kernels import cupy_kernels

from . import cuda_host
from .cuda_host import CompileError, ElementwiseKernel, cuda_module, nvcc_compile

needs_gxx = pytest.mark.skipif(cuda_host.GXX_SKIP_REASON is not None,
                               reason=str(cuda_host.GXX_SKIP_REASON))
needs_nvcc = pytest.mark.skipif(cuda_host.NVCC_SKIP_REASON is not None,
                                reason=str(cuda_host.NVCC_SKIP_REASON))
DTYPES = ("float32", "float64")


@needs_nvcc
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_the_kernels_compile_for_the_gpu(arch):
    kernels = cupy_kernels.build_kernels(ElementwiseKernel).values()
    cubin = nvcc_compile(cuda_module([kernel.cuda_source(dtype)
                                      for kernel in kernels for dtype in DTYPES]), arch)
    for kernel in kernels:
        for dtype in DTYPES:
            assert f"{kernel.name}_{dtype}".encode() in cubin  # the kernel is in the binary


class BrokenKernel(NamedTuple):
    """An operation (on "T x" -> "T y") that no compiler may accept with T = double."""
    operation: str
    gxx_error: str    # the start of g++'s message, as a regular expression
    nvcc_error: str   # the same for nvcc


BROKEN_KERNELS = {
    "broken_syntax": BrokenKernel(
        "T twice = 2 * x;\ny = twice +;",
        r"broken_syntax:2:\d+: error: expected primary-expression",
        r"broken_syntax_float64\(2\): error: expected an expression"),
    "writes_input": BrokenKernel(
        "x = 0; y = 1;",
        r"writes_input:1:\d+: error: assignment of read-only reference 'x'",
        r"writes_input_float64\(1\): error: expression must be a modifiable lvalue"),
    # hard-codes float: compiles for float32 only, since nothing converts T silently
    "assumes_float": BrokenKernel(
        "float* out = &y; *out = x;",
        r"assumes_float:1:\d+: error: cannot convert .*double\*.* to 'float\*'",
        r'assumes_float_float64\(1\): error: a value of type .*"double \*".* cannot be used '
        r'to initialize an entity of type "float \*"'),
}


def broken_kernel(name):
    return ElementwiseKernel("T x", "T y", BROKEN_KERNELS[name].operation, name)


@needs_gxx
@pytest.mark.parametrize("name", BROKEN_KERNELS)
def test_gxx_refuses_a_broken_kernel_at_its_line(name):
    with pytest.raises(CompileError, match=BROKEN_KERNELS[name].gxx_error):
        broken_kernel(name)(np.ones(2), np.zeros(2))


@needs_nvcc
@pytest.mark.parametrize("name", BROKEN_KERNELS)
def test_nvcc_refuses_a_broken_kernel_at_its_line(name):
    with pytest.raises(CompileError, match=BROKEN_KERNELS[name].nvcc_error):
        nvcc_compile(cuda_module([broken_kernel(name).cuda_source("float64")]), "sm_80")


@needs_gxx
@needs_nvcc
def test_a_kernel_that_assumes_float_compiles_for_float32():
    """The other half of "assumes_float": what breaks it is T = double, not the kernel's syntax."""
    kernel = broken_kernel("assumes_float")
    np.testing.assert_array_equal(kernel(np.ones(2, np.float32), np.zeros(2, np.float32)), [1, 1])
    assert b"assumes_float_float32" in nvcc_compile(cuda_module([kernel.cuda_source("float32")]),
                                                    "sm_80")
