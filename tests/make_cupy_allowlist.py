"""Write tests/cupy_allowlist.json: the names real CuPy exposes.

tests/fakecupy.py, the strict stand-in for CuPy, refuses every name that real
CuPy lacks, so engine code that passes on the stand-in cannot lean on a
NumPy-only function that would fail on a GPU. This script records CuPy's names.
Run it with an interpreter that has CuPy installed; no GPU is needed, CuPy
imports without one:

    python -m venv /tmp/cupyenv
    /tmp/cupyenv/bin/pip install "cupy-cuda12x>=14"
    /tmp/cupyenv/bin/python tests/make_cupy_allowlist.py
"""
import __future__
import json
import pathlib

import cupy

OUT = pathlib.Path(__file__).with_name("cupy_allowlist.json")

# Names dir() cannot see: cupy.random makes Generator on first access (a module
# __getattr__, cupy/random/__init__.py), and Generator.__init__ sets
# ``self.bit_generator`` (cupy/random/_generator_api.pyx).
HIDDEN_NAMES = {"cupy.random": ["Generator"], "cupy.random.Generator": ["bit_generator"]}


def public_names(obj):
    """Public names of a module or class, without ``from __future__ import`` leftovers."""
    return sorted(name for name in dir(obj) if not name.startswith("_")
                  and not isinstance(getattr(obj, name, None), __future__._Feature))


def main():
    allowlist = {
        "cupy_version": cupy.__version__,
        "cupy": public_names(cupy),
        "cupy.random": public_names(cupy.random),
        "cupy.linalg": public_names(cupy.linalg),
        "cupy.ndarray": public_names(cupy.ndarray),
        # the operators and conversions a cupy.ndarray supports (no __index__, no __round__ ...)
        "cupy.ndarray special": sorted(name for name in dir(cupy.ndarray)
                                       if name.startswith("__") and name.endswith("__")),
        "cupy.random.Generator": public_names(cupy.random.Generator),
    }
    for key, names in HIDDEN_NAMES.items():
        allowlist[key] = sorted(set(allowlist[key]) | set(names))
    OUT.write_text(json.dumps(allowlist, indent=1) + "\n")
    print(f"wrote {OUT} (CuPy {cupy.__version__}, {len(allowlist['cupy'])} top-level names)")


if __name__ == "__main__":
    main()
