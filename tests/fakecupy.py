"""fakecupy: a strict stand-in for CuPy, so the tests can prove without a GPU
that engine code is "CuPy-clean".

Arrays are NumPy arrays inside, but they obey CuPy's rules, so code that runs on
the stand-in also runs on a GPU, and code that would quietly copy to the host,
wait for the device or reach for a NumPy-only name fails here, on the CPU:

* names: ``xp`` exposes only what CuPy 14 has (tests/cupy_allowlist.json, made
  by tests/make_cupy_allowlist.py from real CuPy); anything else is an
  AttributeError, e.g. ``xp.float128`` or ``rng.normal``;
* no implicit conversion: ``np.asarray(a)`` raises CuPy's own TypeError. Any
  NumPy function or ufunc applied to a device array raises too (stricter than
  CuPy, which would dispatch ``np.exp(a)`` to itself: the engine says ``xp.exp``);
* no host arrays as operands: ``a + np_array``, ``xp.where(m, np_array, 0)`` and
  ``a[...] = np_array`` raise "Unsupported type" as in CuPy (which lets a few
  assignments through as hidden copies; we refuse them all). Python and NumPy
  *scalars* are fine. Host data enters only by ``xp.asarray`` / ``xp.array``,
  and by lists or NumPy arrays used as indices, which CuPy copies over too;
* reductions and ``a[i, j]`` give 0-d device arrays, never scalars;
* every device-to-host transfer (``float(a)``, ``a.item()``, ``if a:``,
  ``a.get()``, ``xp.asnumpy``, printing, boolean-mask indexing, ``xp.nonzero``)
  is counted: ``count_host_syncs()``, ``host_syncs()``, ``reset_host_syncs()``;
* ``xp.random`` draws a different stream (Philox) from NumPy's default (PCG64),
  so no test can pass by sharing NumPy's random numbers;
* inside ``forbid_float64()`` creating any float64 array is a TypeError;
* ``xp.ElementwiseKernel`` runs the kernel's exact source on the host: g++ compiles it
  into a loop over ``i`` (tests/cuda_host.py), which works on the NumPy arrays inside
  the device arrays it is given, so the outputs are written in place.

The rest is NumPy: each allowlisted name that NumPy also has is NumPy's function
with its arguments unwrapped and its results wrapped again.

Usage::

    from tests.fakecupy import xp, count_host_syncs, forbid_float64

    with count_host_syncs() as syncs, forbid_float64():
        out = layer.forward(xp.asarray(images))  # a layer on a backend whose xp is this one
    assert syncs.count == 0
"""
import contextlib
import json
import pathlib
import sys
import types
import weakref

import numpy as np

from . import cuda_host

_ALLOWLIST_FILE = pathlib.Path(__file__).with_name("cupy_allowlist.json")
ALLOWLIST = {key: (frozenset(names) if isinstance(names, list) else names)
             for key, names in json.loads(_ALLOWLIST_FILE.read_text()).items()}
CUPY_VERSION = ALLOWLIST["cupy_version"]
IMPLICIT_CONVERSION = ("Implicit conversion to a NumPy array is not allowed. "
                       "Please use `.get()` to construct a NumPy array explicitly.")
_MISSING = object()
_SCALARS = (bool, int, float, complex, np.generic)
_WIDE = (np.dtype(np.float64), np.dtype(np.complex128))

# --- host syncs and the float64 ban -------------------------------------------------
_state = {"syncs": 0, "no_float64": 0}


def _sync():
    _state["syncs"] += 1


def host_syncs():
    """Device-to-host transfers since the last reset."""
    return _state["syncs"]


def reset_host_syncs():
    _state["syncs"] = 0


class _SyncCounter:
    def __init__(self):
        self._start, self._end = _state["syncs"], None

    @property
    def count(self):
        """Syncs inside the block (so far, while it still runs)."""
        return (_state["syncs"] if self._end is None else self._end) - self._start


@contextlib.contextmanager
def count_host_syncs():
    """``with count_host_syncs() as syncs: ...`` then ``syncs.count``."""
    counter = _SyncCounter()
    try:
        yield counter
    finally:
        counter._end = _state["syncs"]


@contextlib.contextmanager
def forbid_float64():
    """Make every float64 (or complex128) array created inside the block a TypeError."""
    _state["no_float64"] += 1
    try:
        yield
    finally:
        _state["no_float64"] -= 1


# --- moving values across the fake device boundary -------------------------------------
def _unsupported(value):
    return TypeError(f"Unsupported type {type(value)}")


def _operand(value):
    """An argument of an operator or ufunc: a device array or a scalar, as CuPy's kernels take."""
    if isinstance(value, ndarray):
        return value._a
    if isinstance(value, _SCALARS):
        return value
    raise _unsupported(value)


def _unwrap(value, host_ok=False):
    """Any other argument: device arrays inside (nested) lists and tuples become NumPy;
    a NumPy array anywhere is refused unless the function copies host data in."""
    if isinstance(value, ndarray):
        return value._a
    if isinstance(value, np.ndarray):
        if host_ok:
            return value
        raise _unsupported(value)
    if type(value) in (list, tuple):
        return type(value)(_unwrap(item, host_ok) for item in value)
    return value


def _wrap(value, op):
    """NumPy results -> device arrays; a NumPy scalar becomes a 0-d array, as in CuPy."""
    if isinstance(value, (np.ndarray, np.generic)):
        return ndarray._new(np.asarray(value), op)
    if type(value) in (list, tuple):
        return type(value)(_wrap(item, op) for item in value)
    return value


def _call(func, args, kwargs, op, strict=False):
    convert = _operand if strict else _unwrap
    result = func(*[convert(a) for a in args], **{k: _unwrap(v) for k, v in kwargs.items()})
    out = kwargs.get("out")
    return out if isinstance(out, ndarray) else _wrap(result, op)


def _index(index, ellipsis=True):
    """An index for NumPy. Lists and NumPy arrays in an index are copied to the device, as
    CuPy does; a boolean mask costs a sync (CuPy reads the number of hits back)."""
    parts = list(index) if isinstance(index, tuple) else [index]
    mask = False
    for i, part in enumerate(parts):
        if isinstance(part, ndarray):
            part = part._a
        elif isinstance(part, list):
            part = np.asarray(part, dtype=None if part else np.intp)
        if isinstance(part, np.ndarray) and part.dtype == np.bool_:
            mask = True
        parts[i] = part
    if ellipsis and not any(part is Ellipsis for part in parts):
        parts.append(Ellipsis)  # a[i, j] then gives a 0-d view, not a NumPy scalar
    return tuple(parts), mask


def _checked(array, op):
    if _state["no_float64"] and array.dtype in _WIDE:
        raise TypeError(f"fakecupy: float64 array created while float64 is forbidden "
                        f"({op} gave {array.dtype})")
    return array


_live = weakref.WeakValueDictionary()  # id -> every device array alive, for the memory pool


class ndarray:
    """An array "on the device": reachable only through ``xp`` and its own methods."""

    __slots__ = ("_a", "__weakref__")
    __array_priority__ = 100  # as cupy.ndarray
    __hash__ = None

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        """``xp.ndarray(shape, dtype)``: uninitialised memory, as in CuPy."""
        if memptr is not None or strides is not None:
            raise TypeError("fakecupy: ndarray(memptr=, strides=) is not implemented "
                            "by the stand-in")
        self._a = _checked(np.empty(shape, dtype=dtype, order=order), "xp.ndarray()")
        _live[id(self)] = self

    @classmethod
    def _new(cls, array, op):
        self = object.__new__(cls)
        self._a = _checked(array, op)
        _live[id(self)] = self
        return self

    # NumPy must never see the data implicitly
    def __array__(self, dtype=None, copy=None):
        raise TypeError(IMPLICIT_CONVERSION)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if any(isinstance(x, np.ndarray) for x in inputs + tuple(kwargs.get("out") or ())):
            raise TypeError(f"Unsupported type {np.ndarray}")
        # np.float32(2) * a lands here; CuPy forwards it to its own ufunc, and so do we
        if (method == "__call__" and not kwargs and ufunc in _OPERATOR_UFUNCS
                and any(isinstance(x, np.generic) for x in inputs)):
            return _call(ufunc, inputs, {}, f"operator {ufunc.__name__}", strict=True)
        name = ufunc.__name__ + ("" if method == "__call__" else "." + method)
        raise TypeError(f"fakecupy: numpy.{name}() was applied to a fakecupy array; use the "
                        f"array module instead (xp.{name})")

    def __array_function__(self, func, types, args, kwargs):
        raise TypeError(f"fakecupy: numpy.{func.__name__}() was applied to a fakecupy array; "
                        f"use the array module instead (xp.{func.__name__})")

    # device -> host: each is a .get() inside CuPy, so each is counted as a sync
    def get(self, stream=None, order="C", out=None):
        _sync()
        if out is None:
            return np.array(self._a, order=order)
        np.copyto(out, self._a)
        return out

    def _to_host(convert):
        def method(self, *args):
            _sync()
            return convert(self._a, *args)
        return method

    item, tolist = _to_host(np.ndarray.item), _to_host(np.ndarray.tolist)
    tobytes = _to_host(np.ndarray.tobytes)
    __bool__, __int__, __float__ = _to_host(bool), _to_host(int), _to_host(float)
    __complex__, __bytes__ = _to_host(complex), _to_host(bytes)
    __repr__, __str__, __format__ = _to_host(repr), _to_host(str), _to_host(format)
    del _to_host

    def __reduce__(self):
        return _from_host, (self.get(),)

    def set(self, arr, stream=None):
        """Host -> device copy into this array (not a sync)."""
        if not isinstance(arr, np.ndarray) or arr.shape != self.shape:
            raise ValueError("fakecupy: set() needs a numpy.ndarray of the same shape")
        self._a[...] = arr

    # on the device: no syncs
    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        return self.copy()

    def __len__(self):
        if not self._a.ndim:
            raise TypeError("len() of unsized object")
        return len(self._a)

    def __iter__(self):
        if not self._a.ndim:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self._a)))

    def __getitem__(self, index):
        key, mask = _index(index)
        if mask:
            _sync()
        return _wrap(self._a[key], "indexing")

    def __setitem__(self, index, value):
        key, mask = _index(index)
        if mask:
            _sync()
        self._a[key] = _unwrap(value)

    def astype(self, dtype, order="K", casting=None, subok=None, copy=True):
        result = self._a.astype(dtype, order=order, copy=copy)
        return self if result is self._a else ndarray._new(result, "astype")

    @property
    def shape(self):
        return self._a.shape

    @shape.setter
    def shape(self, shape):  # like CuPy: a reshape without copy, else an error
        self._a = self._a.reshape(shape, copy=False)

    def scatter_add(self, slices, value):
        np.add.at(self._a, _index(slices, ellipsis=False)[0], _unwrap(value))

    def __getattr__(self, name):
        if name.startswith("__") or name == "_a":
            raise AttributeError(name)
        raise _missing_attribute("cupy.ndarray", ALLOWLIST["cupy.ndarray"], name)


def _missing_attribute(label, allowed, name):
    if name in allowed:
        return AttributeError(f"fakecupy: {label}.{name} exists in CuPy {CUPY_VERSION} "
                              f"but is not implemented by the stand-in")
    return AttributeError(f"fakecupy: {label} has no attribute {name!r} "
                          f"(not in CuPy {CUPY_VERSION})")


def _from_host(array):
    return ndarray._new(np.array(array), "unpickling")


ndarray.__module__ = "fakecupy"  # array_module() imports type(a).__module__ and finds xp


# Operators, for exactly the special methods cupy.ndarray has (it has no __index__,
# no __round__, no __imatmul__: those stay TypeErrors here too).
def _binary(ufunc, reflected):
    def method(self, other, *_):
        x, y = (other, self) if reflected else (self, other)
        return _call(ufunc, (x, y), {}, f"operator {ufunc.__name__}", strict=True)
    return method


def _inplace(ufunc):
    def method(self, other):
        ufunc(self._a, _operand(other), out=self._a)
        return self
    return method


def _unary(ufunc):
    return lambda self: _call(ufunc, (self,), {}, f"operator {ufunc.__name__}", strict=True)


_ARITHMETIC = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "truediv": np.true_divide,
               "floordiv": np.floor_divide, "mod": np.remainder, "pow": np.power,
               "matmul": np.matmul, "divmod": np.divmod, "and": np.bitwise_and,
               "or": np.bitwise_or, "xor": np.bitwise_xor, "lshift": np.left_shift,
               "rshift": np.right_shift}
_COMPARISONS = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal,
                "gt": np.greater, "ge": np.greater_equal}
_OPERATOR_UFUNCS = frozenset(_ARITHMETIC.values()) | frozenset(_COMPARISONS.values())
_special = {}
for _name, _ufunc in _ARITHMETIC.items():
    _special.update({f"__{_name}__": _binary(_ufunc, False), f"__r{_name}__": _binary(_ufunc, True),
                     f"__i{_name}__": _inplace(_ufunc)})
for _name, _ufunc in _COMPARISONS.items():
    _special[f"__{_name}__"] = _binary(_ufunc, False)
_special.update(__neg__=_unary(np.negative), __pos__=_unary(np.positive),
                __abs__=_unary(np.absolute), __invert__=_unary(np.invert))
for _name, _method in _special.items():
    if _name in ALLOWLIST["cupy.ndarray special"]:
        setattr(ndarray, _name, _method)


# Every other allowlisted method or attribute that numpy.ndarray has, delegated. Attributes
# that would hand out host memory or host objects stay unimplemented.
_HOST_ONLY = {"data", "flat", "device", "ctypes", "tofile", "dump", "dumps"}
# output sizes that depend on the data (CuPy reads them back), or output to the host
_SYNCING = {"nonzero", "compress", "argwhere", "flatnonzero", "extract", "bincount", "unique",
            "unique_all", "unique_counts", "unique_inverse", "unique_values", "save", "savez",
            "savez_compressed", "savetxt", "array2string", "array_repr", "array_str"}


def _delegated_method(name):
    def method(self, *args, **kwargs):
        if name in _SYNCING:
            _sync()
        return _call(getattr(self._a, name), args, kwargs, f"ndarray.{name}")
    method.__name__ = name
    return method


for _name in sorted(ALLOWLIST["cupy.ndarray"] - set(vars(ndarray)) - _HOST_ONLY):
    _attr = getattr(np.ndarray, _name, None)
    if callable(_attr):
        setattr(ndarray, _name, _delegated_method(_name))
    elif _attr is not None:
        setattr(ndarray, _name, property(lambda self, n=_name: _wrap(getattr(self._a, n), n)))


# --- functions of the namespace ------------------------------------------------------
class _Ufunc:
    """``xp.exp``, ``xp.add``, ...: a NumPy ufunc under CuPy's kernel-argument rules."""

    def __init__(self, name, ufunc):
        self.__name__ = self.name = name
        self._ufunc, self.nin, self.nout, self.nargs = ufunc, ufunc.nin, ufunc.nout, ufunc.nargs

    def __call__(self, *args, **kwargs):
        return _call(self._ufunc, args, kwargs, f"xp.{self.name}", strict=True)

    def __getattr__(self, method):  # reduce, accumulate, outer, reduceat
        if method not in ("reduce", "accumulate", "outer", "reduceat"):
            raise AttributeError(method)
        return lambda *args, **kwargs: _call(getattr(self._ufunc, method), args, kwargs,
                                             f"xp.{self.name}.{method}")

    def at(self, a, indices, b=None):
        args = (_index(indices, ellipsis=False)[0],) + (() if b is None else (_unwrap(b),))
        self._ufunc.at(a._a, *args)


_ARRAY_RESULT = {"allclose", "array_equal", "array_equiv", "count_nonzero"}  # CuPy: 0-d arrays


def _function(name, func):
    def call(*args, **kwargs):
        if name in _SYNCING or (name == "where" and len(args) == 1):
            _sync()
        result = _call(func, args, kwargs, f"xp.{name}")
        if name in _ARRAY_RESULT and not isinstance(result, ndarray):
            return ndarray._new(np.asarray(result), f"xp.{name}")
        return result
    call.__name__ = name
    call.__doc__ = f"numpy.{name} under CuPy's rules."
    return call


def _from_numpy(module, name):
    obj = getattr(module, name, _MISSING)
    if obj is _MISSING or isinstance(obj, types.ModuleType):
        return _MISSING
    if isinstance(obj, np.ufunc):
        return _Ufunc(name, obj)
    if isinstance(obj, type):  # dtypes and scalar types are NumPy's own in CuPy too
        shared = issubclass(obj, np.generic) or obj in (np.dtype, np.finfo, np.iinfo)
        return obj if shared else _MISSING
    if callable(obj):
        return _function(name, obj)
    return obj if obj is None or isinstance(obj, (int, float)) else _MISSING  # pi, inf, newaxis


def asarray(a, dtype=None, order=None, *, copy=None, blocking=False):
    """Host data -> device (a copy, not a sync). A device array passes through."""
    if isinstance(a, ndarray):
        result = a._a.astype(dtype, copy=False) if dtype is not None else a._a
        return a if result is a._a and not copy else ndarray._new(np.array(result), "xp.asarray")
    return ndarray._new(np.array(_unwrap(a, host_ok=True), dtype=dtype, order=order), "xp.asarray")


def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, *, blocking=False):
    """Host data or a device array -> a new device array."""
    return ndarray._new(np.array(_unwrap(obj, host_ok=True), dtype=dtype, order=order, ndmin=ndmin),
                        "xp.array")


def asnumpy(a, stream=None, order="C", out=None, *, blocking=True):
    """Device -> host copy (a sync); host data is returned as a NumPy array."""
    if isinstance(a, ndarray):
        return a.get(order=order, out=out)
    return np.asarray(a, order=order)


def get_array_module(*args):
    return xp if any(isinstance(a, ndarray) for a in args) else np


class _MemoryPool:
    """``xp.get_default_memory_pool()``. Approximate books: used bytes are the buffers of live
    device arrays (views counted once); nothing is cached, so total equals used."""

    def used_bytes(self):
        buffers = {}
        for a in list(_live.values()):
            root = a._a
            while isinstance(root.base, np.ndarray):
                root = root.base
            buffers[id(root)] = root.nbytes
        return sum(buffers.values())

    def total_bytes(self):
        return self.used_bytes()

    def free_all_blocks(self, stream=None):
        pass


_POOL = _MemoryPool()


# --- xp.random: the same API, another stream ----------------------------------------
class BitGenerator:
    """All of CuPy's bit generators become NumPy's Philox, seeded through SeedSequence as in
    CuPy: a stream unlike NumPy's default PCG64, reproducible for a given seed."""

    __slots__ = ("_bits",)

    def __init__(self, seed=None, *, size=-1):
        self._bits = np.random.Philox(np.random.SeedSequence(
            asnumpy(seed) if isinstance(seed, ndarray) else seed))

    def state(self):
        """In CuPy a device pointer, not a snapshot: the stream cannot be saved this way."""
        return id(self._bits)


# CuPy's three cuRAND generators: here all three are the Philox above
XORWOW, MRG32k3a, Philox4x3210 = (type(name, (BitGenerator,), {"__slots__": ()})
                                  for name in ("XORWOW", "MRG32k3a", "Philox4x3210"))


_TAKES_DTYPE = {"random", "standard_normal", "standard_exponential", "standard_gamma", "integers"}


def _draw(generator, name, args, kwargs):
    dtype = kwargs.pop("dtype", None)
    if dtype is not None and name in _TAKES_DTYPE:
        kwargs["dtype"] = dtype
    result = getattr(generator, name)(*[_unwrap(a) for a in args],
                                      **{k: _unwrap(v) for k, v in kwargs.items()})
    # CuPy returns device arrays, 0-d for size=None; other dtypes are a cast after the draw
    return None if result is None else ndarray._new(np.asarray(result, dtype=dtype), f"rng.{name}")


class Generator:
    """``xp.random.Generator`` with the methods CuPy's has (no normal, choice, permutation)."""

    __slots__ = ("_gen", "bit_generator")

    def __init__(self, bit_generator):
        if not isinstance(bit_generator, BitGenerator):
            raise TypeError("fakecupy: Generator needs an xp.random bit generator")
        self.bit_generator = bit_generator
        self._gen = np.random.Generator(bit_generator._bits)

    def __getattr__(self, name):
        raise _missing_attribute("cupy.random.Generator", ALLOWLIST["cupy.random.Generator"], name)


def _generator_method(name):
    return lambda self, *args, **kwargs: _draw(self._gen, name, args, kwargs)


for _name in ALLOWLIST["cupy.random.Generator"] - set(vars(Generator)):
    if hasattr(np.random.Generator, _name):
        setattr(Generator, _name, _generator_method(_name))

_legacy = [Generator(XORWOW())]  # the stream behind xp.random.rand, randn, ... (reseeded by seed())


def _legacy_draw(name, **defaults):
    return lambda *args, **kwargs: _draw(_legacy[0]._gen, name, args, {**defaults, **kwargs})


_RANDOM = {
    "BitGenerator": BitGenerator, "XORWOW": XORWOW, "MRG32k3a": MRG32k3a,
    "Philox4x3210": Philox4x3210, "Generator": Generator,
    "default_rng": lambda seed=None: (seed if isinstance(seed, Generator) else Generator(
        seed if isinstance(seed, BitGenerator) else XORWOW(seed))),
    "seed": lambda seed=None: _legacy.__setitem__(0, Generator(XORWOW(seed))),
    "rand": lambda *size, dtype=float: _draw(_legacy[0]._gen, "random", (size,), {"dtype": dtype}),
    "randn": lambda *size, dtype=float: _draw(_legacy[0]._gen, "standard_normal", (size,),
                                              {"dtype": dtype}),
    "randint": _legacy_draw("integers"),
    **{name: _legacy_draw("random") for name in ("random_sample", "random", "ranf", "sample")},
}


# --- xp.ElementwiseKernel: the kernel source, run on the host ---------------------------
class ElementwiseKernel:
    """``xp.ElementwiseKernel(in_params, out_params, operation, name)``, run by the host
    emulation of tests/cuda_host.py: g++ compiles the exact source in a loop over ``i``
    where CuPy would launch one GPU thread per ``i``.

    A call takes what CuPy's takes, inputs then outputs: device arrays and scalars (a
    NumPy array is refused, as in CuPy). The emulation runs on the NumPy arrays inside
    the device arrays, so it writes the outputs in place; the call returns them, as
    CuPy does. A launch is no host sync and creates no array. Stricter than CuPy: every
    output must be given, arrays must be C-contiguous and raw indices stay in bounds
    (tests/cuda_host.py says why); CuPy's options (size=, block_size=, preamble=, ...)
    are not implemented by the stand-in.
    """

    def __init__(self, in_params, out_params, operation, name="kernel", **options):
        _refuse_options("ElementwiseKernel", options)
        self._host = cuda_host.ElementwiseKernel(in_params, out_params, operation, name)

    def __call__(self, *args, **options):
        _refuse_options(f"kernel {self._host.name}", options)
        self._host(*[_operand(arg) for arg in args])
        outputs = args[self._host.input_count:]
        return outputs[0] if len(outputs) == 1 else outputs


def _refuse_options(label, options):
    if options:
        raise TypeError(f"fakecupy: {label}({', '.join(options)}=...): CuPy's options are "
                        f"not implemented by the stand-in")


# --- the namespaces -----------------------------------------------------------------
def _namespace(name, label, allowed, resolve):
    """A module object whose attributes are exactly the allowlisted names we implement."""
    module = types.ModuleType(name, f"Strict stand-in for {label} (see tests/fakecupy.py).")

    def __getattr__(attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        value = resolve(attr) if attr in allowed else _MISSING
        if value is _MISSING:
            raise _missing_attribute(label, allowed, attr)
        setattr(module, attr, value)  # cached: the next lookup is a plain attribute
        return value

    module.__getattr__ = __getattr__
    module.__dir__ = lambda: sorted(n for n in allowed if resolve(n) is not _MISSING)
    sys.modules[name] = module
    return module


_random = _namespace("fakecupy.random", "cupy.random", ALLOWLIST["cupy.random"],
                    lambda n: _RANDOM[n] if n in _RANDOM else (
                        _legacy_draw(n) if hasattr(np.random.Generator, n) else _MISSING))
_linalg = _namespace("fakecupy.linalg", "cupy.linalg", ALLOWLIST["cupy.linalg"],
                    lambda n: _from_numpy(np.linalg, n))
_TOP = {"ndarray": ndarray, "asarray": asarray, "asanyarray": asarray, "array": array,
        "asnumpy": asnumpy, "get_array_module": get_array_module,
        "get_default_memory_pool": lambda: _POOL, "is_available": lambda: True,
        "random": _random, "linalg": _linalg, "ElementwiseKernel": ElementwiseKernel}
xp = _namespace("fakecupy", "cupy", ALLOWLIST["cupy"],
                lambda n: _TOP[n] if n in _TOP else _from_numpy(np, n))
assert set(_TOP) <= ALLOWLIST["cupy"] and set(_RANDOM) <= ALLOWLIST["cupy.random"]
