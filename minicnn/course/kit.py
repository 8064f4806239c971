"""The students' kit, as ``python -m minicnn exercises DIR`` writes it:

    DIR/README.md                  what to write, the rules, how to check, how it is graded
    DIR/pytest.ini
    DIR/functional/*.py            minicnn/functional's files with the exercises blanked
    DIR/test_exercises.py          the checks the grader runs, one test per function and case
"""
import pathlib
import string

from .exercises import EXERCISES, FILES, package_docstring, skeleton_source
from .statements import DERIVATIONS

TEMPLATES = pathlib.Path(__file__).resolve().parent / "templates"


class KitError(Exception):
    """The kit cannot be written there (a file, or a folder with something in it)."""


HINT_TEXT = {
    "none": "The top of each file and each function's docstring give the shapes, the names of "
            "the quantities and the name of the formula to use, not the formula itself: "
            "deriving it is the exercise.",
    "formula": "The top of each file gives the formulas; each function's docstring gives the "
               "shapes.",
}


def kit_files(hints="none"):
    """{path inside the kit: text}, the skeleton at hint level ``hints`` (exercises.HINTS)."""
    files = {"README.md": readme(hints), "pytest.ini": "[pytest]\ntestpaths = test_exercises.py\n",
             "functional/__init__.py": package_docstring(),
             "test_exercises.py": (TEMPLATES / "student_tests.py").read_text("utf-8")}
    files.update({f"functional/{file}": skeleton_source(file, hints=hints) for file in FILES})
    return files


def readme(hints="none"):
    rows = "\n".join(f"| `{exercise.file}` | `{exercise.function}` | {exercise.points:g} |"
                     for exercise in EXERCISES)
    total = sum(exercise.points for exercise in EXERCISES)
    derivations = "\n".join(f"| `{file}` | {where} |" for file, where in DERIVATIONS.items())
    template = string.Template((TEMPLATES / "README.md").read_text("utf-8"))
    return template.substitute(functions=rows, total=f"{total:g}", hints=HINT_TEXT[hints],
                               derivations=derivations)


def write_kit(folder, force=False, hints="none"):
    """Write the kit into ``folder`` (created if need be) -> the paths written. ``hints``:
    "none" (the statements: no formula that is an answer) or "formula" (minicnn's docstrings).

    A folder with anything in it is refused unless ``force``: then the kit's own
    files are overwritten (a student's work in functional/ included) and the rest is
    left alone.
    """
    folder = pathlib.Path(folder)
    if folder.exists() and not folder.is_dir():
        raise KitError(f"{folder} is a file, not a folder")
    entries = sorted(path.name for path in folder.iterdir()) if folder.is_dir() else []
    if entries and not force:
        shown = ", ".join(entries[:4]) + (", ..." if len(entries) > 4 else "")
        raise KitError(f"{folder} is not empty (it holds {shown}): choose a new or empty folder, "
                       "or pass --force to overwrite the kit's files in it")
    files = kit_files(hints)   # all made before any is written
    written = []
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
