"""The host emulation of CuPy's ElementwiseKernel (tests/cuda_host.py) does what CuPy does."""
import resource

import numpy as np
import pytest

from . import cuda_host
from .cuda_host import ElementwiseKernel

pytestmark = pytest.mark.skipif(cuda_host.GXX_SKIP_REASON is not None,
                                reason=str(cuda_host.GXX_SKIP_REASON))


def test_runs_the_operation_once_per_index(rng):
    scale = ElementwiseKernel("T x, T y, int32 offset", "T z", "z = x * y - (T)(i + offset);",
                              "scale_and_shift")
    x, y = rng.standard_normal(10), rng.standard_normal(10)
    z = np.empty(10)
    assert scale(x, y, 3, z) is z
    np.testing.assert_array_equal(z, x * y - (np.arange(10) + 3))


def test_raw_params_are_indexed_by_flat_index(rng):
    """A raw array is the whole array (any shape, by flat index); a non-raw one is element i."""
    reverse = ElementwiseKernel("raw T x, T weight, int32 size", "T y",
                                "y = x[size - 1 - i] * weight;", "reverse")
    x, weight = rng.standard_normal((2, 3)), rng.standard_normal(6)
    y = reverse(x, weight, x.size, np.empty(6))
    np.testing.assert_array_equal(y, x.ravel()[::-1] * weight)


def test_several_outputs_are_references_to_element_i(rng):
    split = ElementwiseKernel("T x", "T magnitude, uint8 negative",
                              "magnitude = x < 0 ? -x : x; negative = x < 0;", "split_sign")
    x = rng.standard_normal(7).astype(np.float32)
    magnitude, negative = split(x, np.empty_like(x), np.empty(7, dtype=np.uint8))
    np.testing.assert_array_equal(magnitude, np.abs(x))
    np.testing.assert_array_equal(negative, (x < 0).astype(np.uint8))


@pytest.mark.parametrize("dtype, bytes_of_t", [("float32", 4), ("float64", 8)])
def test_placeholder_T_takes_the_arrays_dtype(dtype, bytes_of_t):
    """T is float for float32 and double for float64; fixed types keep their own C type."""
    sizes = ElementwiseKernel("T x, uint8 flag", "int32 code",
                              "code = 10 * sizeof(T) + sizeof(flag) + 0 * (int)x;", "type_sizes")
    code = sizes(np.zeros(3, dtype), np.zeros(3, np.uint8), np.empty(3, np.int32))
    np.testing.assert_array_equal(code, 10 * bytes_of_t + 1)


def test_arrays_must_agree_on_T_and_on_fixed_types():
    add = ElementwiseKernel("T x, uint8 flag", "T y", "y = x + flag;", "add_flag")
    with pytest.raises(TypeError, match="x is float32, but T is float64"):
        add(np.zeros(3, np.float32), np.zeros(3, np.uint8), np.zeros(3, np.float64))
    with pytest.raises(TypeError, match="flag is int32, but uint8"):
        add(np.zeros(3), np.zeros(3, np.int32), np.zeros(3))


def test_scalars_must_fit_their_type():
    fill = ElementwiseKernel("int32 value", "int32 y", "y = value;", "fill")
    with pytest.raises(OverflowError, match="value = 2147483648 does not fit int32"):
        fill(2**31, np.empty(2, np.int32))
    with pytest.raises(TypeError, match="value is int32, got 2.5"):
        fill(2.5, np.empty(2, np.int32))


def test_an_index_outside_a_raw_array_raises():
    shifted = ElementwiseKernel("raw T x", "T y", "y = x[i + 1];", "shifted")
    with pytest.raises(IndexError, match=r"shifted: x\[5\] is out of bounds \(size 5\), at i = 4"):
        shifted(np.arange(5.0), np.zeros(5))


def test_calls_are_checked():
    copy = ElementwiseKernel("raw T x", "T y", "y = x[i];", "copy")
    with pytest.raises(TypeError, match="takes 2 arguments"):
        copy(np.zeros(3))
    with pytest.raises(ValueError, match="x must be C-contiguous"):
        copy(np.zeros(6)[::2], np.zeros(3))
    with pytest.raises(ValueError, match="loop size is undecided"):
        raw_copy = ElementwiseKernel("raw T x", "raw T y", "y[i] = x[i];", "raw_copy")
        raw_copy(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="different shapes"):
        ElementwiseKernel("T x", "T y", "y = x;", "same")(np.zeros(3), np.zeros(4))


def test_loop_range_runs_only_those_indices():
    index = ElementwiseKernel("", "int64 y", "y = i;", "index")
    y = index(np.full(10, -1), loop_range=(3, 6))
    np.testing.assert_array_equal(y, [-1, -1, -1, 3, 4, 5, -1, -1, -1, -1])


def test_lazy_zeros_run_past_2_to_the_32_in_a_few_pages():
    """A 32 GiB array (with 64 GiB of guards) of which the loop touches the last page."""
    index = ElementwiseKernel("", "int64 y", "y = i;", "index")
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    huge = cuda_host.lazy_zeros((2**32,), np.int64)
    index(huge, loop_range=(2**32 - 3, 2**32))
    np.testing.assert_array_equal(huge[-4:], [0, 2**32 - 3, 2**32 - 2, 2**32 - 1])
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 64 * 1024


def test_compiled_code_is_cached_by_source(tmp_path, monkeypatch):
    monkeypatch.setenv("MINICNN_CUDA_HOST_CACHE", str(tmp_path))
    double = ElementwiseKernel("T x", "T y", "y = 2 * x;", "double_it")
    np.testing.assert_array_equal(double(np.arange(3.0), np.zeros(3)), [0, 2, 4])
    assert len(list(tmp_path.glob("*.so"))) == 1

    def no_compiler(command):
        raise AssertionError(f"recompiled: {command}")
    with monkeypatch.context() as patch:
        patch.setattr(cuda_host, "run_compiler", no_compiler)
        rebuilt = ElementwiseKernel("T x", "T y", "y = 2 * x;", "double_it")
        np.testing.assert_array_equal(rebuilt(np.arange(3.0), np.zeros(3)), [0, 2, 4])
        with pytest.raises(AssertionError, match="recompiled"):
            ElementwiseKernel("T x", "T y", "y = 3 * x;", "double_it")(np.arange(3.0), np.zeros(3))

    triple = ElementwiseKernel("T x", "T y", "y = 3 * x;", "double_it")
    np.testing.assert_array_equal(triple(np.arange(3.0), np.zeros(3)), [0, 3, 6])
    assert len(list(tmp_path.glob("*.so"))) == 2


def test_without_gxx_a_launch_says_so(monkeypatch):
    monkeypatch.setattr(cuda_host, "GXX", None)
    kernel = ElementwiseKernel("T x", "T y", "y = x;", "copy_it")
    with pytest.raises(cuda_host.CompileError, match="copy_it cannot run: g\\+\\+ is not installed"):
        kernel(np.zeros(2), np.zeros(2))
