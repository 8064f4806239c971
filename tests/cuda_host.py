"""CuPy's ElementwiseKernel, emulated on the host: the exact CUDA kernel source, compiled by g++.

The cupy backend's kernels (minicnn/kernels/cupy_kernels.py) are CuPy ElementwiseKernels:
a C++ snippet that CuPy runs once per index ``i``, one GPU thread each. Nothing in them
needs a GPU (no shared memory, no atomics, no barriers), so the same snippet, compiled by
g++ inside a plain ``for`` loop over ``i``, computes what the GPU threads compute. This
module does that, so tests/test_cupy_kernels.py can run the real kernel source on any
machine with a C++ compiler.

What CuPy gives the snippet (cupy/_core/_kernel.pyx and include/cupy/carray.cuh), and the
host harness's counterpart:

    CuPy                                             here
    typedef <C type of the dtype> T;                 the same typedef (float32 -> float, ...)
    ptrdiff_t i: CUPY_FOR's grid-stride loop         for (ptrdiff_t i = first; i < stop; ++i)
    raw param ``x``: a CArray, x[k] is flat          ``x``: a HostArray, x[k] is flat element k,
      element k (C order), read-only for inputs        read-only for inputs, and bounds-checked
    non-raw input ``x``: const T &x = element i      the same declaration
    non-raw output ``y``: T &y = element i           the same declaration
    ``int32 n`` given a Python int: const int n      the same parameter
    CUDA's min / max                                 min / max of two values of one type

Where the two differ, the host is the stricter one: a raw index outside its array raises
IndexError (a GPU reads garbage or faults); min / max of two different types, which CUDA
converts, does not compile; arrays must be C-contiguous and the non-raw ones share one
shape (CuPy would handle strides and broadcasting, which our wrappers never need). CUDA's
math library (exp, sqrt, ...) and CuPy's ``_ind`` are not provided: no kernel uses them.
Signed integers wrap on overflow (``-fwrapv``) as they do on the GPU, so an int index
that overflows goes wrong here as it would there.

Compiled code is cached under ``$MINICNN_CUDA_HOST_CACHE`` (default
``~/.cache/minicnn/cuda_host``), keyed by a hash of the compiler, its flags and the
generated source. ``ElementwiseKernel.cuda_source`` wraps a kernel the way CuPy hands it
to its CUDA compiler, and ``nvcc_compile`` compiles that: the device-side check.
"""
import ctypes
import dataclasses
import functools
import hashlib
import mmap
import os
import pathlib
import shutil
import subprocess

import numpy as np

GXX = shutil.which("g++")
GXX_MISSING = "g++ is not installed (the host emulation of the CUDA kernels needs it)"
GXX_SKIP_REASON = None if GXX else GXX_MISSING
# signed overflow wraps, as on the GPU, instead of letting the optimizer assume it away
GXX_FLAGS = ["-std=c++17", "-O2", "-fwrapv", "-shared", "-fPIC"]
NVCC = shutil.which("nvcc")
NVCC_SKIP_REASON = None if NVCC else "nvcc (the CUDA toolkit's compiler) is not installed"

# the C type CuPy declares for each dtype (cupy/_core/_scalar.pyx); float16 and complex are left out
C_TYPES = {np.dtype(name): c_type for name, c_type in [
    ("float64", "double"), ("float32", "float"), ("int64", "long long"), ("int32", "int"),
    ("int16", "short"), ("int8", "signed char"), ("uint64", "unsigned long long"),
    ("uint32", "unsigned int"), ("uint16", "unsigned short"), ("uint8", "unsigned char"),
    ("bool", "bool")]}


class CompileError(RuntimeError):
    """A compiler rejected a kernel; the message holds its diagnostics."""


@dataclasses.dataclass(frozen=True)
class Param:
    """One entry of an ElementwiseKernel parameter list, such as ``raw T x`` or ``int32 n``."""
    name: str
    type_name: str     # a one-letter placeholder such as "T", or a dtype name such as "int32"
    raw: bool
    is_input: bool

    @property
    def is_placeholder(self):
        return len(self.type_name) == 1  # CuPy's rule: a one-character type is a placeholder


def _dtype_named(type_name):
    try:
        return np.dtype(type_name)
    except TypeError:
        raise TypeError(f"{type_name!r} is neither a dtype nor a one-letter placeholder") from None


def parse_params(text, is_input):
    """``"raw T x, int32 n"`` -> [Param, ...], with CuPy's syntax: ``[raw] TYPE NAME``."""
    params = []
    for entry in filter(str.strip, text.split(",")):
        words = entry.split()
        if len(words) < 2 or any(word != "raw" for word in words[:-2]):
            raise ValueError(f"bad kernel parameter {entry.strip()!r}: expected '[raw] TYPE NAME'")
        *keywords, type_name, name = words
        if len(type_name) > 1 and _dtype_named(type_name) not in C_TYPES:
            raise TypeError(f"kernel parameter {name}: dtype {type_name} is not supported here")
        params.append(Param(name, type_name, raw=bool(keywords), is_input=is_input))
    return params


@dataclasses.dataclass(frozen=True)
class Slot:
    """A parameter as one launch sees it: its dtype, and whether it receives an array."""
    param: Param
    dtype: np.dtype
    is_array: bool

    @property
    def c_type(self):
        return C_TYPES[self.dtype]

    @property
    def const(self):
        return "const " if self.param.is_input else ""

    @property
    def element_reference(self):
        """CuPy's binding of a non-raw array's element i, e.g. ``T &y`` (a placeholder stays
        a placeholder, as in CuPy's generated code)."""
        type_name = self.param.type_name if self.param.is_placeholder else self.c_type
        return f"{self.const}{type_name} &{self.param.name}"


class ElementwiseKernel:
    """CuPy's ``ElementwiseKernel(in_params, out_params, operation, name)``, run on the host.

    Call it as CuPy's: inputs, then outputs (NumPy arrays; the outputs are filled in place
    and returned). The loop runs over the shape of the non-raw arrays. Host only:
    ``loop_range=(first, stop)`` runs just those ``i``, to test index arithmetic near the
    top of a huge launch (with ``lazy_zeros`` arrays).
    """

    def __init__(self, in_params, out_params, operation, name="kernel"):
        inputs, outputs = parse_params(in_params, True), parse_params(out_params, False)
        self.params = inputs + outputs
        self.input_count = len(inputs)
        self.operation = operation
        self.name = name
        self._functions = {}  # generated source -> loaded entry point

    def __call__(self, *args, loop_range=None):
        if len(args) != len(self.params):
            names = ", ".join(param.name for param in self.params)
            raise TypeError(f"kernel {self.name} takes {len(self.params)} arguments ({names}), "
                            f"got {len(args)}")
        types = self._check_arrays(args)
        slots = [Slot(param, self._dtype_of(param, types), isinstance(arg, np.ndarray))
                 for param, arg in zip(self.params, args)]
        size = self._loop_size(slots, args)
        first, stop = (0, size) if loop_range is None else loop_range
        if not 0 <= first <= stop <= size:
            raise ValueError(f"kernel {self.name}: loop_range {loop_range} is not within "
                             f"[0, {size}]")
        entry_point = self._entry_point(slots, types)
        failure = (ctypes.c_ssize_t * 3)()
        if entry_point(first, stop, failure, *self._c_arguments(slots, args)):
            argument, index, i = failure
            raise IndexError(f"kernel {self.name}: {self.params[argument].name}[{index}] is out "
                             f"of bounds (size {args[argument].size}), at i = {i}")
        outputs = args[self.input_count:]
        return outputs[0] if len(outputs) == 1 else outputs

    def cuda_source(self, dtype):
        """The lines of this kernel with its placeholders = ``dtype``, as CuPy hands it to
        its CUDA compiler; put one or more in ``cuda_module`` to compile them.

        Raw params and outputs are arrays; the other inputs are scalars, as our wrappers
        pass them. The kernel is named ``<name>_<dtype>``, so that several fit one module.
        """
        types = {param.type_name: np.dtype(dtype) for param in self.params if param.is_placeholder}
        slots = [Slot(param, self._dtype_of(param, types), param.raw or not param.is_input)
                 for param in self.params]
        return _cuda_kernel(f"{self.name}_{np.dtype(dtype).name}", slots, types, self.operation)

    # --- one launch, step by step ---

    def _check_arrays(self, args):
        """Check each array argument, and return each placeholder's dtype, taken from the
        arrays given for it (outputs first, as in CuPy)."""
        types = {}
        for param, arg in sorted(zip(self.params, args), key=lambda pair: pair[0].is_input):
            if not isinstance(arg, np.ndarray):
                if param.raw or not param.is_input:
                    raise TypeError(f"kernel {self.name}: {param.name} must be an array, "
                                    f"got {type(arg).__name__}")
                continue
            if not arg.flags.c_contiguous:
                raise ValueError(f"kernel {self.name}: {param.name} must be C-contiguous")
            if not param.is_input and not arg.flags.writeable:
                raise ValueError(f"kernel {self.name}: output {param.name} is read-only")
            if arg.dtype not in C_TYPES:
                raise TypeError(f"kernel {self.name}: {param.name} has dtype {arg.dtype}, "
                                f"which the host emulation does not support")
            expected = (types.setdefault(param.type_name, arg.dtype) if param.is_placeholder
                        else np.dtype(param.type_name))
            if arg.dtype != expected:
                raise TypeError(f"kernel {self.name}: {param.name} is {arg.dtype}, but "
                                f"{param.type_name} is {expected} here")
        return types

    def _dtype_of(self, param, types):
        if not param.is_placeholder:
            return np.dtype(param.type_name)
        if param.type_name not in types:
            raise TypeError(f"kernel {self.name}: no array fixes the type {param.type_name} "
                            f"of {param.name}")
        return types[param.type_name]

    def _loop_size(self, slots, args):
        """The number of i: the size of the non-raw arrays, which must share one shape."""
        shapes = {arg.shape for slot, arg in zip(slots, args)
                  if slot.is_array and not slot.param.raw}
        if not shapes:
            raise ValueError(f"kernel {self.name}: loop size is undecided (no non-raw array)")
        if len(shapes) > 1:
            raise ValueError(f"kernel {self.name}: non-raw arrays of different shapes {shapes}")
        return int(np.prod(shapes.pop()))

    def _c_arguments(self, slots, args):
        """After (first, stop, failure): per array its pointer and size, per scalar its value."""
        values = []
        for slot, arg in zip(slots, args):
            values += [arg.ctypes.data, arg.size] if slot.is_array else [self._scalar(slot, arg)]
        return values

    def _scalar(self, slot, value):
        """``value`` in the parameter's dtype; refuses what would not survive the conversion."""
        if slot.dtype.kind in "iu" and not isinstance(value, (int, np.integer)):
            raise TypeError(f"kernel {self.name}: {slot.param.name} is {slot.dtype}, got {value!r}")
        try:
            return slot.dtype.type(value).item()
        except OverflowError as error:
            raise OverflowError(f"kernel {self.name}: {slot.param.name} = {value} does not fit "
                                f"{slot.dtype}") from error

    def _entry_point(self, slots, types):
        """The compiled host function for this signature (compiled once, then cached)."""
        source = _host_source(self.name, slots, types, self.operation)
        if source not in self._functions:
            if GXX is None:
                raise CompileError(f"kernel {self.name} cannot run: {GXX_MISSING}")
            library = ctypes.CDLL(str(compiled(source, [GXX, *GXX_FLAGS], ".cpp", ".so")))
            entry_point = getattr(library, self.name)
            entry_point.restype = ctypes.c_int
            argtypes = [ctypes.c_ssize_t, ctypes.c_ssize_t, ctypes.POINTER(ctypes.c_ssize_t)]
            for slot in slots:
                argtypes += ([ctypes.c_void_p, ctypes.c_ssize_t] if slot.is_array
                             else [np.ctypeslib.as_ctypes_type(slot.dtype)])
            entry_point.argtypes = argtypes
            self._functions[source] = entry_point
        return self._functions[source]


# --- generated source ---

RESUME = "// RESUME"  # where the harness resumes after an operation; replaced by a #line directive


def _operation_lines(kernel_name, operation):
    """The operation, numbered as its own file named after the kernel, so that a compiler
    error in it reads "<kernel name>:<line>: error: ..."."""
    return [f'#line 1 "{kernel_name}"', *operation.strip("\n").split("\n"), RESUME]


def _resume_numbering(lines, label):
    """Turn each RESUME into a #line directive giving the next line its true number."""
    return "\n".join(f'#line {k + 2} "{label}"' if line == RESUME else line
                     for k, line in enumerate(lines)) + "\n"


def _typedefs(types):
    return [f"typedef {C_TYPES[dtype]} {name};" for name, dtype in sorted(types.items())]


HOST_PRELUDE = r"""#include <cstddef>

// CUDA's min and max, for two values of one type
// (CUDA converts mixed types; here they do not compile)
template <typename V> inline V min(V a, V b) { return b < a ? b : a; }
template <typename V> inline V max(V a, V b) { return a < b ? b : a; }

// what a read or write outside an array throws; the entry point reports it to Python
struct OutOfBounds { int argument; ptrdiff_t index; };

// an array parameter as CuPy's CArray shows it to a kernel: x[k] is flat element k (C order)
template <typename V>
class HostArray {
    V* data_;
    ptrdiff_t size_;
    int argument_;
public:
    HostArray(V* data, ptrdiff_t size, int argument)
        : data_(data), size_(size), argument_(argument) {}
    V& operator[](ptrdiff_t k) const {
        if (k < 0 || k >= size_) throw OutOfBounds{argument_, k};
        return data_[k];
    }
};"""


def _host_source(name, slots, types, operation):
    """``extern "C" int name(first, stop, failure, arguments...)``: runs the operation for
    i in [first, stop) and returns 0, or 1 with failure = (argument, index, i) when an
    index falls outside its array. An array argument is (data pointer, size)."""
    parameters = ["ptrdiff_t _first", "ptrdiff_t _stop", "ptrdiff_t* _failure"]
    arrays, references = [], []
    for number, slot in enumerate(slots):
        name_in_kernel = slot.param.name
        if not slot.is_array:
            parameters.append(f"const {slot.c_type} {name_in_kernel}")
            continue
        parameters += [f"{slot.const}{slot.c_type}* _data_{name_in_kernel}",
                       f"ptrdiff_t _size_{name_in_kernel}"]
        variable = name_in_kernel if slot.param.raw else f"_raw_{name_in_kernel}"
        arrays.append(f"    const HostArray<{slot.const}{slot.c_type}> {variable}("
                      f"_data_{name_in_kernel}, _size_{name_in_kernel}, {number});")
        if not slot.param.raw:
            references.append(f"            {slot.element_reference} = _raw_{name_in_kernel}[i];")
    lines = [*HOST_PRELUDE.split("\n"), "", *_typedefs(types), "",
             f'extern "C" int {name}({", ".join(parameters)}) {{', *arrays,
             "    ptrdiff_t _i = _first;  // the i being run, for the failure report",
             "    try {",
             "        for (ptrdiff_t i = _first; i < _stop; ++i) {",
             "            _i = i;", *references,
             *_operation_lines(name, operation),
             "        }",
             "    } catch (const OutOfBounds& error) {",
             "        _failure[0] = error.argument; _failure[1] = error.index; _failure[2] = _i;",
             "        return 1;",
             "    }",
             "    return 0;",
             "}"]
    return _resume_numbering(lines, "host harness")


CUDA_PRELUDE = r"""// Stand-ins for what CuPy's cupy/carray.cuh gives an ElementwiseKernel

// the grid-stride loop: each thread starts at its global index and steps by the grid size
#define CUPY_FOR(i, n) \
    for (ptrdiff_t i = static_cast<ptrdiff_t>(blockIdx.x) * blockDim.x + threadIdx.x; \
         i < (n); i += static_cast<ptrdiff_t>(blockDim.x) * gridDim.x)

// an array parameter: x[k] is flat element k; x[_ind.get()] is the element at the loop's index
template <typename T, int ndim>
class CArray {
    T* data_;
    ptrdiff_t size_;
    ptrdiff_t shape_[ndim];
    ptrdiff_t strides_[ndim];
public:
    __device__ ptrdiff_t size() const { return size_; }
    __device__ const T& operator[](ptrdiff_t k) const { return data_[k]; }
    __device__ T& operator[](ptrdiff_t k) { return data_[k]; }
    __device__ const T& operator[](const ptrdiff_t (&index)[ndim]) const {
        ptrdiff_t offset = 0;
        for (int dim = 0; dim < ndim; ++dim) offset += strides_[dim] * index[dim];
        return *reinterpret_cast<const T*>(reinterpret_cast<const char*>(data_) + offset);
    }
    __device__ T& operator[](const ptrdiff_t (&index)[ndim]) {
        return const_cast<T&>(static_cast<const CArray&>(*this)[index]);
    }
};

// the loop's index space: set(i) turns the flat i into one index per dimension
template <int ndim>
class CIndexer {
    ptrdiff_t size_;
    ptrdiff_t shape_[ndim];
    ptrdiff_t index_[ndim];
public:
    typedef ptrdiff_t index_t[ndim];
    __device__ ptrdiff_t size() const { return size_; }
    __device__ void set(ptrdiff_t i) {
        for (int dim = ndim - 1; dim > 0; --dim) {
            index_[dim] = i % shape_[dim];
            i /= shape_[dim];
        }
        index_[0] = i;
    }
    __device__ const index_t& get() const { return index_; }
};"""


def _cuda_kernel(name, slots, types, operation):
    """One kernel as CuPy writes it (cupy/_core/_kernel.pyx): typedefs, then an
    ``extern "C" __global__`` function of CArray, scalar and CIndexer parameters whose
    grid-stride loop binds the non-raw elements and runs the operation. It sits in a
    namespace of its own, so that kernels of several dtypes share one module."""
    parameters, references = [], []
    for slot in slots:
        if not slot.is_array:
            parameters.append(f"const {slot.c_type} {slot.param.name}")
            continue
        variable = slot.param.name if slot.param.raw else f"_raw_{slot.param.name}"
        parameters.append(f"{slot.const}CArray<{slot.c_type}, 1> {variable}")
        if not slot.param.raw:
            references.append(f"        {slot.element_reference} = "
                              f"_raw_{slot.param.name}[_ind.get()];")
    return [f"namespace {name} {{", *_typedefs(types),
            f'extern "C" __global__ void {name}({", ".join(parameters + ["CIndexer<1> _ind"])}) {{',
            "    #pragma unroll 1",
            "    CUPY_FOR(i, _ind.size()) {",
            "        _ind.set(i);", *references,
            *_operation_lines(name, operation),
            "    }",
            "}",
            f"}}  // namespace {name}", ""]


def cuda_module(kernel_sources):
    """One CUDA translation unit: the CArray / CIndexer / CUPY_FOR prelude, then the kernels
    (each from ``ElementwiseKernel.cuda_source``)."""
    lines = [*CUDA_PRELUDE.split("\n"), ""]
    for kernel_lines in kernel_sources:
        lines += kernel_lines
    return _resume_numbering(lines, "CuPy-style wrapper")


# --- compiling, with a cache ---

def cache_dir():
    """$MINICNN_CUDA_HOST_CACHE, or ~/.cache/minicnn/cuda_host (never inside the repository)."""
    default = pathlib.Path(os.environ.get("XDG_CACHE_HOME", pathlib.Path.home() / ".cache"))
    return pathlib.Path(os.environ.get("MINICNN_CUDA_HOST_CACHE",
                                       default / "minicnn" / "cuda_host"))


@functools.cache
def _compiler_version(compiler):
    return subprocess.run([compiler, "--version"], capture_output=True, text=True).stdout


def run_compiler(command):
    """Run a compiler command line (a function of its own so tests can watch it), in the C
    locale so that its messages are plain ASCII."""
    return subprocess.run(command, capture_output=True, text=True,
                          env={**os.environ, "LC_ALL": "C"})


def compiled(source, command, source_suffix, output_suffix):
    """The path of ``command`` (compiler and flags) applied to ``source``: built once, then
    found in the cache by a hash of the compiler's version, the command and the source.
    Raises CompileError with the compiler's messages when it fails."""
    key = hashlib.sha256("\0".join([_compiler_version(command[0]), *command, source]).encode())
    directory = cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    output = directory / (key.hexdigest()[:32] + output_suffix)
    if output.exists():
        return output
    source_path = output.with_suffix(source_suffix)
    _write_atomically(source_path, source.encode())
    partial = output.with_name(f"{output.name}.{os.getpid()}.partial")
    result = run_compiler([*command, "-o", str(partial), str(source_path)])
    if result.returncode != 0:
        messages = "\n".join(result.stderr.strip().split("\n")[:40])
        raise CompileError(f"{pathlib.Path(command[0]).name} could not compile {source_path}:\n"
                           f"{messages}")
    os.replace(partial, output)  # atomic: a concurrent run sees the whole file or none
    return output


def _write_atomically(path, data):
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def nvcc_compile(source, arch):
    """Compile a CUDA module for one GPU architecture (such as "sm_80") to a cubin, as CuPy
    does before a launch; returns the cubin's bytes (CompileError when nvcc refuses)."""
    command = [NVCC, "-std=c++17", f"-arch={arch}", "--cubin"]
    return compiled(source, command, ".cu", f".{arch}.cubin").read_bytes()


# --- huge arrays that cost no memory ---

# Python names it from 3.13 on; 0x4000 is its value on Linux x86-64 and arm64
MAP_NORESERVE = getattr(mmap, "MAP_NORESERVE", 0x4000)


def lazy_zeros(shape, dtype):
    """Zeros of any size that take memory only where they are touched, between two zero
    guards of their own size.

    For running a kernel (with ``loop_range``) near the top of a launch of more than
    2**31 elements: an anonymous mapping that reserves no swap (MAP_NORESERVE) costs
    address space, not memory, until a page is written. An index that is wrong by less
    than the array's size lands in a guard and reads 0, so the test sees a wrong value
    instead of a crash.
    """
    dtype = np.dtype(dtype)
    size = int(np.prod(shape))
    nbytes = size * dtype.itemsize
    mapping = mmap.mmap(-1, 3 * nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_NORESERVE)
    return np.frombuffer(mapping, dtype=dtype, count=size, offset=nbytes).reshape(shape)
