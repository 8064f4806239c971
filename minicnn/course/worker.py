"""The child process of minicnn.course.runner: it runs a student's functions and nothing else.

    python -I worker.py PACKAGE REQUESTS_FD REPLIES_FD

The parent (minicnn.course.runner) sends requests on a private pipe and reads
the replies on another; each message is a 4-byte big-endian length and that
many bytes of JSON, arrays inside it as {"nd": [dtype, shape, base64]}
(``encode`` / ``decode``). The worker only loads the student's file, calls its
functions on the inputs it is sent and sends back what they returned: it
grades nothing. Every comparison, every score and every report is the
parent's, which checks what comes back (type, dtype, shape, finiteness) and
treats a malformed or oversized message as the submission's failure.

This file imports only the standard library and NumPy, never minicnn: it runs
as a script, and an import finder refuses ``minicnn`` to the student's code,
so a submission cannot call minicnn's reference functions. Its relative
imports (``from .im2col import im2col``) get fresh copies of minicnn's files,
sent by the parent, in which the functions that would answer another
exercise raise instead.

The parent imports this module too, for ``encode``, ``decode`` and the
framing: one codec for both sides.
"""
import base64
import collections
import functools
import importlib.abc
import json
import os
import pathlib
import select
import struct
import sys
import time
import traceback
import types

import numpy as np

HEADER = struct.Struct(">I")
MAX_MESSAGE = 64 * 2 ** 20   # bytes: a reply larger than this is the submission's failure
MAX_DEPTH = 16               # nesting of tuples and records in one value
# the dtypes an array may have on the pipe: no objects, no strings, no structured arrays
DTYPES = {np.dtype(name).str: np.dtype(name) for name in (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64")}
PACKAGE = "_submission"
KEPT_RESULTS = 64            # results the worker keeps for later "fetch" requests


class ProtocolError(Exception):
    """A message that breaks the protocol: malformed, too large, too deep, or not in time."""


# --- values on the pipe ---------------------------------------------------------------------

def encode(value, depth=0):
    """``value`` as JSON-able data. Anything but arrays of DTYPES, NumPy scalars, None, bools,
    numbers, strings, tuples, lists and named tuples becomes {"unsupported": what it is}."""
    if depth > MAX_DEPTH:
        return {"unsupported": "a value nested too deep"}
    if type(value) is np.ndarray:
        if value.dtype.str not in DTYPES:
            return {"unsupported": f"an array of dtype {value.dtype}"}
        data = np.ascontiguousarray(value).tobytes()
        return {"nd": [value.dtype.str, list(value.shape), base64.b64encode(data).decode()]}
    if isinstance(value, np.ndarray):
        return {"unsupported": f"a {type(value).__name__} (a subclass of numpy.ndarray)"}
    if isinstance(value, np.generic) and type(value) in {dtype.type for dtype in DTYPES.values()}:
        return {"scalar": encode(np.asarray(value))}
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, tuple) and hasattr(type(value), "_fields"):
        return {"record": type(value).__name__, "fields": list(type(value)._fields),
                "values": [encode(item, depth + 1) for item in value]}
    if type(value) in (tuple, list):
        return {type(value).__name__: [encode(item, depth + 1) for item in value]}
    if isinstance(value, Handle):
        return {"handle": value.number}
    return {"unsupported": f"a {type(value).__module__}.{type(value).__qualname__}"}


class Handle:
    """A result kept on the worker's side, named by its number."""

    def __init__(self, number):
        self.number = number

    def __repr__(self):
        return f"<result {self.number} kept by the worker>"


class Unsupported:
    """What a student's function returned that cannot cross the pipe (an object array, a
    subclass, a dict): the parent reports it as the function's failure."""

    def __init__(self, what):
        self.what = what

    def __repr__(self):
        return self.what


def decode(data, records=None, depth=0):
    """The value ``encode`` made of it; ProtocolError for anything else. ``records(name,
    fields)`` gives the class a named tuple is rebuilt as (default: a namedtuple)."""
    if depth > MAX_DEPTH:
        raise ProtocolError("a value nested too deep")
    if data is None or type(data) in (bool, int, float, str):
        return data
    if type(data) is not dict or len(data) not in (1, 3):
        raise ProtocolError(f"not a value: {type(data).__name__}")
    if set(data) == {"nd"}:
        return _array(data["nd"])
    if set(data) == {"scalar"}:
        array = decode(data["scalar"], records, depth + 1)
        if not isinstance(array, np.ndarray) or array.ndim:
            raise ProtocolError("a scalar that is not 0-d")
        return array[()]
    if set(data) in ({"tuple"}, {"list"}):
        (kind, items), = data.items()
        if type(items) is not list:
            raise ProtocolError(f"a {kind} that is not a list")
        values = [decode(item, records, depth + 1) for item in items]
        return tuple(values) if kind == "tuple" else values
    if set(data) == {"record", "fields", "values"}:
        name, fields, values = data["record"], data["fields"], data["values"]
        if not (type(name) is str and name.isidentifier() and type(fields) is list
                and type(values) is list and len(fields) == len(values)
                and all(type(field) is str and field.isidentifier()
                        and not field.startswith("_") for field in fields)
                and len(set(fields)) == len(fields)):
            raise ProtocolError("a malformed record")
        make = records or _namedtuple
        return make(name, tuple(fields))(*[decode(value, records, depth + 1) for value in values])
    if set(data) == {"handle"} and type(data["handle"]) is int:
        return Handle(data["handle"])
    if set(data) == {"unsupported"} and type(data["unsupported"]) is str:
        return Unsupported(data["unsupported"][:200])
    raise ProtocolError(f"not a value: keys {sorted(map(str, data))[:4]}")


@functools.lru_cache(maxsize=256)
def _namedtuple(name, fields):
    return collections.namedtuple(name, fields)


def _array(spec):
    if not (type(spec) is list and len(spec) == 3 and spec[0] in DTYPES
            and type(spec[1]) is list and all(type(n) is int and 0 <= n for n in spec[1])
            and len(spec[1]) <= 32 and type(spec[2]) is str):
        raise ProtocolError("a malformed array")
    dtype, shape = DTYPES[spec[0]], tuple(spec[1])
    try:
        data = base64.b64decode(spec[2], validate=True)
    except ValueError:
        raise ProtocolError("an array whose data is not base64") from None
    if len(data) != dtype.itemsize * int(np.prod(shape, dtype=np.int64)):
        raise ProtocolError(f"an array of shape {shape} with {len(data)} bytes of data")
    return np.frombuffer(data, dtype).reshape(shape).copy()


# --- the framing ----------------------------------------------------------------------------

def send(fd, message):
    """Write one message (a JSON-able dict) on ``fd``."""
    payload = json.dumps(message, allow_nan=True).encode()
    view = memoryview(HEADER.pack(len(payload)) + payload)
    while view:
        view = view[os.write(fd, view):]


def receive(fd, deadline=None, limit=None):
    """Read one message from ``fd`` by ``deadline`` (time.monotonic(); None: wait) -> the dict.
    ProtocolError when the other side closes, is late, or sends more than ``limit`` bytes or no
    JSON object; TimeoutError when nothing whole came by the deadline."""
    limit = MAX_MESSAGE if limit is None else limit
    length = HEADER.unpack(_read_exactly(fd, HEADER.size, deadline))[0]
    if length > limit:
        raise ProtocolError(f"a message of {length:,} bytes, over the limit of {limit:,}")
    try:
        message = json.loads(_read_exactly(fd, length, deadline))
    except (ValueError, RecursionError):
        raise ProtocolError("a message that is not JSON") from None
    if type(message) is not dict:
        raise ProtocolError("a message that is not a JSON object")
    return message


def _read_exactly(fd, size, deadline):
    chunks, left = [], size
    while left:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise ProtocolError("the pipe closed in the middle of a message" if chunks or
                                left < size else "the pipe closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


# --- the worker -----------------------------------------------------------------------------

class _RefuseMinicnn(importlib.abc.MetaPathFinder):
    """Student code may not import minicnn: its reference functions would be the answers."""

    def find_spec(self, name, path=None, target=None):
        if name == "minicnn" or name.startswith("minicnn."):
            raise ImportError(f"a submission cannot import {name}: minicnn's reference is "
                              "not available while grading (write the function yourself)")
        return None


class _Worker:
    def __init__(self, package):
        self.package = pathlib.Path(package)
        self.references = {}     # sibling module name: minicnn's source
        self.module = None
        self.functions = {}
        self.kept = collections.OrderedDict()
        self.numbers = 0

    def handle(self, request):
        op = request.get("op")
        if op == "references":
            self.references = request["modules"]
            return {"ok": True}
        if op == "load":
            return self.load(request["file"], request["functions"], request["guarded"])
        if op == "call":
            return self.call(request)
        if op == "fetch":
            return {"result": encode(self.kept.get(request["handle"],
                                                   Unsupported("a result no longer kept")))}
        if op == "forget":
            self.kept.clear()
            return {"ok": True}
        return {"error": f"unknown request {op!r}"}

    def load(self, file, names, guarded):
        """Load the student's ``file`` afresh, its siblings minicnn's (guarded) copies."""
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]
        self.kept.clear()
        parent = types.ModuleType(PACKAGE)
        parent.__path__ = []
        sys.modules[PACKAGE] = parent
        stem = file[:-3]
        for sibling, source in self.references.items():
            if sibling == stem:
                continue
            module = types.ModuleType(f"{PACKAGE}.{sibling}")
            module.__package__, module.__file__ = PACKAGE, f"<minicnn's {sibling}.py>"
            sys.modules[module.__name__] = module
            try:
                exec(compile(source, module.__file__, "exec"), module.__dict__)
            except ImportError:   # it needs the student's file (conv.py needs im2col.py)
                del sys.modules[module.__name__]
                continue
            setattr(parent, sibling, module)
        for sibling, names_refused in guarded.items():
            module = getattr(parent, sibling, None)
            for name in names_refused if module is not None else ():
                setattr(module, name, _refused(f"{sibling}.py", name, file))
        path = self.package / file
        if not path.is_file():
            return {"error": f"no {file} in {self.package}"}
        try:
            code = compile(path.read_bytes(), str(path), "exec")
        except SyntaxError as error:
            return {"error": f"{file} does not compile: {error.msg} (line {error.lineno})"}
        except ValueError as error:
            return {"error": f"{file} is not Python source: {error}"}
        module = types.ModuleType(f"{PACKAGE}.{stem}")
        module.__file__, module.__package__ = str(path), PACKAGE
        sys.modules[module.__name__] = module
        setattr(parent, stem, module)
        try:
            exec(code, module.__dict__)
        except (Exception, SystemExit) as error:
            return {"error": f"{file} failed while it was imported: "
                             f"{describe_error(error, self.package)}"}
        self.module, self.functions, missing = module, {}, {}
        siblings = [getattr(parent, sibling) for sibling in self.references
                    if sibling != stem and hasattr(parent, sibling)]
        references = {id(value) for module in siblings for value in vars(module).values()
                      if callable(value)}
        for name in names:
            function = getattr(module, name, None)
            if not callable(function):
                missing[name] = f"{file} has no function {name}"
            elif _unwrapped(function) & references:
                missing[name] = (f"{file}'s {name} is minicnn's own, taken from one of its "
                                 f"other files: write it in {file}")
            else:
                self.functions[name] = function
        return {"ok": True, "missing": missing}

    def call(self, request):
        function = self.functions[request["function"]]
        args = [self._value(value) for value in request["args"]]
        kwargs = {name: self._value(value) for name, value in request["kwargs"].items()}
        try:
            result = function(*args, **kwargs)
        except (Exception, SystemExit) as error:
            return {"error": describe_error(error, self.package)}
        reply = {}
        if request.get("keep"):
            self.numbers += 1
            self.kept[self.numbers] = result
            while len(self.kept) > KEPT_RESULTS:
                self.kept.popitem(last=False)
            reply["handle"] = self.numbers
            if request["keep"] == "cache" and type(result) in (tuple, list) and len(result) == 2:
                # the output crosses now, the cache stays here until it is fetched
                self.kept[self.numbers] = result[1]
                reply["out"] = encode(result[0])
            elif request["keep"] == "cache":
                reply["result"] = encode(result)
        else:
            reply["result"] = encode(result)
        if request.get("return_args"):
            reply["args"] = [encode(value) for value in args]
        return reply

    def _value(self, data):
        value = decode(data, self._record)
        return self.kept[value.number] if isinstance(value, Handle) else value

    def _record(self, name, fields):
        """A cache class of the student's file of that name and those fields, else a
        namedtuple."""
        own = getattr(self.module, name, None)
        if isinstance(own, type) and getattr(own, "_fields", None) == fields:
            return own
        return _namedtuple(name, fields)


def _refused(file, name, student_file):
    def refused(*args, **kwargs):
        raise RuntimeError(f"{student_file} may not call minicnn's {name} (from {file}): it "
                           "would answer an exercise; write your own")
    refused.__name__ = name
    return refused


def _unwrapped(function):
    """The ids of ``function`` and of what it wraps (functools.partial, functools.wraps)."""
    seen, todo = set(), [function]
    while todo:
        each = todo.pop()
        if id(each) in seen or len(seen) > 32:
            continue
        seen.add(id(each))
        todo += [inner for inner in (getattr(each, "func", None), getattr(each, "__wrapped__",
                                                                            None),
                                     getattr(each, "__func__", None)) if inner is not None]
    return seen


def describe_error(error, package, is_minicnn=None):
    """'ValueError: ... (conv.py, line 52, in conv2d_backward)': an exception, and where it
    happened: the last line of the student's files it passed through, or minicnn's function it
    was raised in (given what the student's function returned). ``is_minicnn(filename)``: True
    for minicnn's files (default: the copies this worker loads)."""
    is_minicnn = is_minicnn or (lambda filename: filename.startswith("<minicnn's "))
    package = pathlib.Path(package).resolve()
    frames = traceback.extract_tb(error.__traceback__)
    theirs = [frame for frame in frames if pathlib.Path(frame.filename).resolve().parent == package]
    where = ""
    if theirs:
        frame = theirs[-1]
        where = f" ({pathlib.Path(frame.filename).name}, line {frame.lineno}, in {frame.name})"
    elif frames and is_minicnn(frames[-1].filename):
        where = (f" (in minicnn's {frames[-1].name}, on what your function returned: keep the "
                 "cache class and the shapes of the docstring)")
    message = str(error)[:2000] if str(error) else "(no message)"
    return f"{type(error).__name__}: {message}{where}"


def main(argv):
    package, requests, replies = argv[0], int(argv[1]), int(argv[2])
    sys.meta_path.insert(0, _RefuseMinicnn())
    sys.path[:] = [path for path in sys.path if path]   # never the working directory
    worker = _Worker(package)
    send(replies, {"ready": True})
    while True:
        try:
            request = receive(requests)
        except ProtocolError:
            return 0            # the parent closed the pipe: grading is over
        try:
            reply = worker.handle(request)
        except Exception as error:   # a malformed request is the parent's bug: say so
            reply = {"error": f"the worker failed: {type(error).__name__}: {error}"[:2000]}
        send(replies, reply)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
