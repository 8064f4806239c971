"""A student's submission: where its files are, and loading one file on its own.

A submission is a folder in the kit's layout (``DIR/functional/conv.py``...) or
the package folder itself (``DIR/conv.py``...; ``minicnn/functional`` is one).
A folder that is neither holds several, one in each subfolder.

Each file is loaded on its own: its relative imports (``from .im2col import
im2col``) get minicnn.functional's files, not the student's. So a broken
im2col.py costs im2col's and col2im's points, and conv.py is graded as if
im2col were right.
"""
import importlib
import itertools
import pathlib
import sys
import types

from .. import functional
from . import worker
from .exercises import FILES, SOURCE_FOLDER


class SubmissionError(Exception):
    """A file that cannot be graded (missing, not Python, failing at import), or a folder that
    holds no submission."""


def find_submissions(folder):
    """[(name, package folder)]: the one submission ``folder`` is (named as given), or one per
    subfolder (named after it)."""
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise SubmissionError(f"{folder} is not a folder")
    if _package_of(folder) is not None:
        return [(str(folder), _package_of(folder))]
    subfolders = sorted(path for path in folder.iterdir()
                        if path.is_dir() and not path.name.startswith((".", "_")))
    if not subfolders:
        raise SubmissionError(
            f"{folder} holds no submission: expected the kit's layout ({folder}/functional/"
            f"conv.py, ...), the files themselves ({folder}/conv.py, ...), or one subfolder per "
            "student holding either")
    # a subfolder without the files is a student who handed in nothing: graded 0, not skipped
    return [(path.name, _package_of(path) or path) for path in subfolders]


def is_submission(folder):
    """True when ``folder`` holds one submission, False when it holds none or several."""
    return _package_of(pathlib.Path(folder)) is not None


def _package_of(folder):
    """The folder that holds a submission's files, or None when ``folder`` is no submission."""
    for candidate in (folder / "functional", folder):
        if any((candidate / file).is_file() for file in FILES if file != "arrays.py"):
            return candidate
    return None


_loads = itertools.count()


def load_file(package, file):
    """``package/file`` as a fresh module whose relative imports get minicnn.functional's files.

    Raises SubmissionError, naming the problem, when the file is missing, does not
    compile or raises while it is imported.
    """
    path = pathlib.Path(package) / file
    if not path.is_file():
        raise SubmissionError(f"no {file} in {package}")
    try:
        code = compile(path.read_bytes(), str(path), "exec")
    except SyntaxError as error:
        raise SubmissionError(f"{file} does not compile: {error.msg} (line {error.lineno})") \
            from None
    except ValueError as error:   # null bytes, a bad encoding declaration
        raise SubmissionError(f"{file} is not Python source: {error}") from None
    # a package of minicnn's files under a fresh name, for this one load
    parent = types.ModuleType(f"_minicnn_submission_{next(_loads)}")
    parent.__path__ = []
    sys.modules[parent.__name__] = parent
    for sibling in FILES:
        reference = importlib.import_module(f"{functional.__name__}.{sibling[:-3]}")
        sys.modules[f"{parent.__name__}.{sibling[:-3]}"] = reference
        setattr(parent, sibling[:-3], reference)
    module = types.ModuleType(f"{parent.__name__}.{path.stem}")
    module.__file__, module.__package__ = str(path), parent.__name__
    sys.modules[module.__name__] = module   # the file itself, not minicnn's version of it
    setattr(parent, path.stem, module)
    try:
        exec(code, module.__dict__)
    except (Exception, SystemExit) as error:   # the student's module-level code
        raise SubmissionError(f"{file} failed while it was imported: "
                              f"{describe_error(error, package)}") from None
    return module


def load_function(package, exercise):
    """The student's function for ``exercise`` (from a fresh load of its file); minicnn's own,
    imported rather than written, is refused."""
    function = getattr(load_file(package, exercise.file), exercise.function, None)
    if not callable(function):
        raise SubmissionError(f"{exercise.file} has no function {exercise.function}")
    origin = getattr(function, "__module__", None) or ""
    if origin.split(".")[0] == functional.__name__.split(".")[0]:
        raise SubmissionError(f"{exercise.file}'s {exercise.function} is minicnn's own, imported "
                              f"from {origin}: write it in {exercise.file}")
    return function


def describe_error(error, package):
    """worker.describe_error, minicnn's files being those of minicnn/functional."""
    return worker.describe_error(
        error, package, lambda filename: pathlib.Path(filename).resolve().parent == SOURCE_FOLDER)
