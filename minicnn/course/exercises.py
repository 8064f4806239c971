"""The coursework: which functions of minicnn.functional a student writes, and their skeleton.

A student writes the pairs of EXERCISES, in minicnn/functional's own files.
The skeleton is made from those very files (``skeleton_source``): each
exercise keeps its signature and gets the body
``raise NotImplementedError("TODO: write <name>")``. So the exercises never
drift from the library. What its docstrings say is the hint level (HINTS):
"none" (the default) replaces the module's and each exercise's docstring by
the statement of minicnn.course.statements (shapes, the quantities' names,
the formula's name, where the derivation is); "formula" keeps minicnn's own,
which state the formulas: the answers.

The other functions of those files are either GIVEN, kept whole, or LEFT_OUT:

- GIVEN: small helpers an exercise calls whose maths is not the point
  (``conv_output_size``, the stable ``log_softmax``, ``array_module``). They stay
  in the student's file, not imported from minicnn, so the file reads like
  minicnn's and its relative imports (``from .im2col import im2col``) work as
  they are.
- LEFT_OUT: what would answer an exercise in one call (the two halves of a
  backward, which minicnn's layers call one at a time; ``conv2d_naive``), and
  what is no part of the course (the visualization's ReLU rules).

Classes, the caches, are kept whole: they are the contract between a forward
and its backward, and the grader relies on it (minicnn.course.grading).
A function that none of the three tables names stops the generator: a new
function in minicnn.functional needs a decision here.
"""
import ast
import pathlib
import textwrap
from dataclasses import dataclass

from .. import functional
from . import statements

HINTS = ("none", "formula")
SOURCE_FOLDER = pathlib.Path(functional.__file__).resolve().parent


@dataclass(frozen=True)
class Exercise:
    """One function a student writes: the ``role`` ("forward" or "backward") it plays in the
    pair of ``operation`` (a sweep of minicnn.gradcheck.standard_cases), whose other function
    is ``partner``; ``points`` is what it is worth."""
    function: str
    file: str
    operation: str
    role: str
    partner: str
    points: float

    @property
    def pair(self):
        """(forward name, backward name) of the pair."""
        names = (self.function, self.partner)
        return names if self.role == "forward" else names[::-1]


# file, operation (its standard sweep), (forward, points), (backward, points): 100 points
PAIRS = [
    ("im2col.py", "im2col", ("im2col", 5), ("col2im", 5)),
    ("conv.py", "conv2d", ("conv2d_forward", 7), ("conv2d_backward", 15)),
    ("pool.py", "maxpool", ("maxpool_forward", 5), ("maxpool_backward", 7)),
    ("pool.py", "global_avg_pool", ("global_avg_pool_forward", 2),
     ("global_avg_pool_backward", 3)),
    ("relu.py", "relu", ("relu_forward", 2), ("relu_backward", 3)),
    ("dense.py", "dense", ("dense_forward", 3), ("dense_backward", 8)),
    ("dense.py", "flatten", ("flatten_forward", 1), ("flatten_backward", 1)),
    ("dropout.py", "dropout", ("dropout_forward", 2), ("dropout_backward", 3)),
    ("batchnorm.py", "batchnorm", ("batchnorm_forward", 5), ("batchnorm_backward", 13)),
    ("loss.py", "softmax_cross_entropy", ("softmax_cross_entropy_forward", 5),
     ("softmax_cross_entropy_backward", 5)),
]
EXERCISES = tuple(
    Exercise(name, file, operation, role, partner, points)
    for file, operation, forward, backward in PAIRS
    for (name, points), role, partner in ((forward, "forward", backward[0]),
                                          (backward, "backward", forward[0])))

GIVEN = ("array_module", "conv_output_size", "pool_output_size", "batchnorm_statistics",
         "log_softmax", "softmax",
         # Winograd's algorithm: further reading, a faster way to compute conv2d_forward
         "winograd_applies", "input_tiles", "filter_tiles", "output_from_tiles",
         "winograd_conv3x3_forward", "winograd_conv3x3_weight_gradient",
         "winograd_conv3x3_transpose")

HALVES = "the two halves of a backward, which minicnn's layers call one at a time: you write " \
         "the backward whole"
LEFT_OUT = {
    "conv2d_parameter_gradients": HALVES, "conv2d_transpose": HALVES,
    "dense_parameter_gradients": HALVES, "dense_input_gradient": HALVES,
    "batchnorm_parameter_gradients": HALVES, "batchnorm_input_gradient": HALVES,
    "unpool": "the input gradient of max-pooling, which is maxpool_backward's exercise",
    "conv2d_naive": "the definition as loops, which would write your forward for you",
    "relu_deconvnet": "a rule of the visualizations, no part of the exercise",
    "relu_guided": "a rule of the visualizations, no part of the exercise",
}

# minicnn/functional's files, in the order a student meets them (__init__.py is written anew)
FILES = ("arrays.py", "im2col.py", "conv.py", "pool.py", "relu.py", "dense.py", "dropout.py",
         "batchnorm.py", "loss.py", "winograd.py")


def exercises_in(file):
    return [exercise for exercise in EXERCISES if exercise.file == file]


def skeleton_source(file, source=None, hints="none"):
    """The student's version of minicnn/functional/``file``: a header, then the source with each
    exercise's body replaced by a TODO and each LEFT_OUT function removed; at ``hints`` "none"
    the module's and the exercises' docstrings are the statements, not minicnn's formulas."""
    if hints not in HINTS:
        raise ValueError(f"hints must be one of {HINTS}, got {hints!r}")
    source = (SOURCE_FOLDER / file).read_text(encoding="utf-8") if source is None else source
    lines = source.splitlines(keepends=True)
    todo = {exercise.function for exercise in exercises_in(file)}
    tree = ast.parse(source)
    left_out = []
    # edit from the bottom up, so the line numbers of what is still to edit stay right
    for node in reversed(tree.body):
        if not isinstance(node, ast.FunctionDef):
            continue
        if node.name in todo:
            docstring = _docstring_node(node, f"{file}: {node.name}")
            indent = " " * (node.col_offset + 4)
            todo_line = f'{indent}raise NotImplementedError("TODO: write {node.name}")\n'
            if hints == "none":
                if node.name not in statements.FUNCTIONS:
                    raise ValueError(f"{node.name} has no statement in "
                                     "minicnn/course/statements.py FUNCTIONS")
                lines[docstring.lineno - 1:node.end_lineno] = [
                    _docstring_text(statements.FUNCTIONS[node.name], indent), todo_line]
            else:
                lines[docstring.end_lineno:node.end_lineno] = [todo_line]
        elif node.name in LEFT_OUT:
            start = node.lineno - 1 - len(node.decorator_list)
            end = node.end_lineno
            while end < len(lines) and not lines[end].strip():
                end += 1          # with the blank lines after it
            lines[start:end] = []
            left_out.append(node.name)
        elif node.name not in GIVEN:
            raise ValueError(f"minicnn/functional/{file} defines {node.name}, which "
                             "minicnn/course/exercises.py neither hands out, gives nor leaves "
                             "out: add it to EXERCISES, GIVEN or LEFT_OUT")
    if todo and hints == "none":
        if file not in statements.MODULES:
            raise ValueError(f"{file} has no statement in minicnn/course/statements.py MODULES")
        docstring = _docstring_node(tree, file)
        where = textwrap.fill(f"The derivations: minicnn's {statements.DERIVATIONS[file]}.", 88)
        lines[docstring.lineno - 1:docstring.end_lineno] = [
            _docstring_text(statements.MODULES[file] + "\n" + where + "\n", "")]
    text = "".join(lines).rstrip("\n") + "\n"
    return _header(file, todo, left_out[::-1]) + text


def _docstring_node(node, where):
    """The docstring's Expr node of a module or function; ValueError when it has none."""
    docstring = node.body[0] if node.body else None
    if not (isinstance(docstring, ast.Expr) and isinstance(docstring.value, ast.Constant)
            and isinstance(docstring.value.value, str)):
        raise ValueError(f"{where} has no docstring to hand out")
    return docstring


def _docstring_text(text, indent):
    """``text`` as a triple-quoted docstring at ``indent``, as lines of source."""
    body = text.strip("\n").split("\n")
    body = [body[0]] + [(indent + line) if line else "" for line in body[1:]]
    closing = "\n" + indent if len(body) > 1 else ""
    return f'{indent}"""' + "\n".join(body) + closing + '"""\n'


def _header(file, todo, left_out):
    """The comment that opens a skeleton file: where it comes from, what to write, what is gone."""
    sentences = [f"Generated by `python -m minicnn exercises` from minicnn/functional/{file}."]
    if todo:
        sentences.append("Write the bodies that raise NotImplementedError. Keep the signatures "
                         "and the cache classes: the grader runs your backward on the cache of "
                         "minicnn's forward and on your own forward's, and minicnn's backward "
                         "on your forward's cache.")
    else:
        sentences.append("Nothing to write here: your files import from it.")
    reasons = {}
    for name in left_out:
        reasons.setdefault(LEFT_OUT[name], []).append(name)
    if reasons:
        sentences.append("Left out of minicnn's file: " + "; ".join(
            f"{' and '.join(names)} ({reason})" for reason, names in reasons.items()) + ".")
    return "".join(textwrap.fill(sentence, 100, initial_indent="# ", subsequent_indent="# ")
                   + "\n" for sentence in sentences)


def package_docstring():
    """The student package's __init__.py: what to write, file by file."""
    rows, previous = [], None
    for file, _, (forward, _), (backward, _) in PAIRS:   # one pair a line
        rows.append(f"    {file if file != previous else '':<14}{forward}, {backward}")
        previous = file
    return ('"""Your functional module: the maths of minicnn\'s layers, as pairs of pure '
            'functions.\n\nWrite the bodies that raise NotImplementedError, file by file:\n\n'
            + "\n".join(rows) + "\n\nREADME.md, one folder up, says how to check them and how "
            'they are graded.\n"""\n')
