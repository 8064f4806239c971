"""The docs stay true when the code moves.

    paths     every file README.md and docs/*.md name (minicnn/..., tests/..., benchmarks/...,
              examples/..., docs/...) exists, and so does every relative link
    names     every name docs/layers.md places in a file ("Where everything lives", and the
              **Implemented in** / **Fast path** lines) is defined in that file
    blocks    every ```python block of README.md and docs/*.md runs and prints the output shown
              under it (figures marked as varying excepted), and every source excerpt (a plain
              block after <!-- excerpt: path -->) is still in its file

Each check is a function of the text it reads, and returns the problems it found; the
companion tests at the end feed each one a broken text and show that it complains.
"""
import ast
import importlib
import json
import pathlib
import re
import subprocess
import sys

import pytest

from .conftest import REPO_ROOT

DOCS = [REPO_ROOT / "README.md"] + sorted((REPO_ROOT / "docs").glob("*.md"))
LAYERS_DOC = REPO_ROOT / "docs" / "layers.md"


def read(path):
    return path.read_text(encoding="utf-8")


def line_of(text, offset):
    return text.count("\n", 0, offset) + 1


# --- reading markdown ---------------------------------------------------------------------------

FENCE = re.compile(r"^[ \t]*```[ \t]*(\S*)[^\n]*\n(.*?)^[ \t]*```[ \t]*$", re.S | re.M)
EXCERPT_MARK = re.compile(r"<!--\s*excerpt:\s*(\S+)\s*-->\s*$")


def fenced_blocks(text):
    """[(info word, body, line of the opening fence, the line just above it)] of a markdown text."""
    blocks = []
    for match in FENCE.finditer(text):
        before = text[:match.start()].rstrip("\n").rpartition("\n")[2]
        body = match.group(2)
        # a block indented in a list item: its lines carry the fence's indentation
        indent = len(match.group(0)) - len(match.group(0).lstrip(" \t"))
        if indent:
            body = "\n".join(line[indent:] for line in body.split("\n"))
        blocks.append((match.group(1), body, line_of(text, match.start()), before.strip()))
    return blocks


# --- paths --------------------------------------------------------------------------------------

# a path from the repository root; not the tail of a longer path or of a URL
REPO_PATH = re.compile(r"(?<![\w/.-])((?:minicnn|tests|benchmarks|examples|docs)/[\w/.-]*\w/?)"
                       r"(?:::(\w+))?")
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")


def top_level_names(path):
    """Names a Python file defines at module level: def, class, assignment."""
    names = set()
    for node in ast.parse(read(path)).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {target.id for target in node.targets if isinstance(target, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def path_problems(text, doc_folder, root=REPO_ROOT):
    """Paths from the repository root that do not exist (``file.py::name``: the name is
    defined in it too), and relative links that lead nowhere."""
    problems = []
    for match in REPO_PATH.finditer(text):
        path, name = match.group(1), match.group(2)
        where = f"line {line_of(text, match.start())}"
        if not (root / path).exists():
            problems.append(f"{where}: {path} does not exist")
        elif name and name not in top_level_names(root / path):
            problems.append(f"{where}: {path} defines no {name}")
    for match in LINK.finditer(text):
        target = match.group(1)
        if re.match(r"[a-z]+:", target):     # http:, https:, mailto:
            continue
        if not (doc_folder / target).exists():
            problems.append(f"line {line_of(text, match.start())}: link {target} leads nowhere")
    return problems


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_every_path_the_docs_name_exists(doc):
    assert path_problems(read(doc), doc.parent) == []


# --- names in docs/layers.md --------------------------------------------------------------------

NAME = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)?"
# "`minicnn/x/y.py`: `a`, `b` and `C.m`": a file, a colon, then a list of names
CLAIM = re.compile(rf"`(minicnn/[\w/]+\.py)`:\s*((?:`{NAME}`(?:,\s*(?:and\s+)?|\s+and\s+)?)+)")


def module_of(path):
    """minicnn/functional/conv.py -> the imported module minicnn.functional.conv."""
    parts = list(pathlib.PurePosixPath(path).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return importlib.import_module(".".join(parts))


def name_problem(name, paths, root=REPO_ROOT):
    """None when one of ``paths`` defines ``name`` ("Class.attribute": the class, defined
    there, has that attribute, its own or inherited); else what is wrong."""
    owner, _, attribute = name.partition(".")
    for path in paths:
        if owner in top_level_names(root / path):
            if not attribute or hasattr(getattr(module_of(path), owner), attribute):
                return None
    return f"{name} is not defined in {', '.join(map(str, paths))}"


def where_everything_lives(text):
    """[(line, [files], [names])] of the table under "## Where everything lives"."""
    start = text.index("## Where everything lives")
    rows = []
    for offset, line in ((m.start(), m.group(0)) for m in re.finditer(r"(?m)^\|.*\|$", text[start:])):
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) != 3 or cells[1] == "file" or set(cells[1]) <= set("-"):
            continue
        files = re.findall(r"`(minicnn/[\w/]+\.py)`", cells[1])
        names = re.findall(rf"`({NAME})`", cells[2])
        rows.append((line_of(text, start + offset), files, names))
    return rows


def implemented_in(text):
    """[(line, file, [names])] of every "`file`: `name`, ..." in the **Implemented in** and
    **Fast path** paragraphs."""
    claims = []
    for paragraph in re.finditer(r"(?ms)^\*\*(?:Implemented in|Fast paths?)\*\*.*?(?=\n\s*\n|\Z)",
                                 text):
        for claim in CLAIM.finditer(paragraph.group(0)):
            claims.append((line_of(text, paragraph.start() + claim.start()), claim.group(1),
                           re.findall(rf"`({NAME})`", claim.group(2))))
    return claims


def name_problems(text, root=REPO_ROOT):
    problems = []
    rows = where_everything_lives(text)
    claims = [(line, [path], names) for line, path, names in implemented_in(text)]
    for line, paths, names in rows + claims:
        if not paths:
            problems.append(f"line {line}: no file named")
        for name in names:
            problem = name_problem(name, paths, root)
            if problem:
                problems.append(f"line {line}: {problem}")
    return problems


def test_every_name_in_layers_md_is_defined_where_it_says():
    text = read(LAYERS_DOC)
    assert name_problems(text) == []


def test_the_name_checks_read_every_section_of_layers_md():
    """The parsers found what they should: a silent format change must not turn the check off."""
    text = read(LAYERS_DOC)
    assert len(where_everything_lives(text)) >= 20
    sections = re.split(r"(?m)^## ", text)
    numbered = [section for section in sections if re.match(r"\d+\. ", section)]
    assert len(numbered) >= 10
    for section in numbered:
        assert implemented_in(section), f"no **Implemented in** file and names in: {section[:40]!r}"


# --- code blocks --------------------------------------------------------------------------------

# Above a ```python block: <!-- not run: why --> leaves it out (a listing of a student's file,
# say). Above the plain block that shows a python block's printed output:
# <!-- output: figures vary --> compares it with every number in it allowed to differ
# (timings, a machine's speed); without the mark the output must be printed as shown.
NOT_RUN_MARK = re.compile(r"<!--\s*not run:[^>]*-->\s*$")
VARYING_MARK = re.compile(r"<!--\s*output:\s*figures vary\s*-->\s*$")
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?%?")

RUNNER = r"""
import contextlib, io, json, os, sys, tempfile, traceback
results, namespace = [], {"__name__": "__main__"}
os.chdir(tempfile.mkdtemp(prefix="minicnn-docs-"))   # a block that writes files writes them here
for where, source in json.load(sys.stdin):
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            exec(compile(source, where, "exec"), namespace)
        results.append([None, printed.getvalue()])
    except BaseException:
        results.append([traceback.format_exc(limit=-3), printed.getvalue()])
print(json.dumps(results))
"""


def python_blocks(text, name):
    """[(where, source, shown output or None, whether its figures vary)] of the ```python blocks
    that run: a plain block right after one (blank lines between) is its printed output."""
    blocks, fences = [], fenced_blocks(text)
    spans = [match.span() for match in FENCE.finditer(text)]
    for index, (info, body, line, before) in enumerate(fences):
        if info != "python" or NOT_RUN_MARK.search(before):
            continue
        shown, varies = None, False
        if index + 1 < len(fences) and fences[index + 1][0] == "":
            between = text[spans[index][1]:spans[index + 1][0]].strip()
            if not between or VARYING_MARK.fullmatch(between):
                shown, varies = fences[index + 1][1], bool(between)
        blocks.append((f"{name}, block at line {line}", body, shown, varies))
    return blocks


def output_matches(printed, shown, varies):
    """Whether ``printed`` is ``shown`` (line by line, trailing spaces ignored); with ``varies``,
    every number of ``shown`` stands for any number."""
    printed_lines = [line.rstrip() for line in printed.rstrip("\n").split("\n")]
    shown_lines = [line.rstrip() for line in shown.rstrip("\n").split("\n")]
    if not varies:
        return printed_lines == shown_lines
    if len(printed_lines) != len(shown_lines):
        return False
    for got, want in zip(printed_lines, shown_lines):
        # each number stands for any number; a run of spaces for any run (columns widen)
        pattern = "".join(NUMBER.pattern if NUMBER.fullmatch(part) else
                          r"\s*".join(map(re.escape, part.split(" ")))
                          for part in re.split(f"({NUMBER.pattern})", want) if part)
        if not re.fullmatch(pattern, got):
            return False
    return True


def block_failures(text, name):
    """Run the ```python blocks of a markdown text in order, in one namespace (a doc reads as a
    notebook: a later block uses what an earlier one defined), in a fresh interpreter (a block
    may choose the numba backend, which tunes the whole process), and compare what each printed
    with the output shown under it -> the failures."""
    blocks = python_blocks(text, name)
    result = subprocess.run([sys.executable, "-c", RUNNER],
                            input=json.dumps([(where, source) for where, source, *_ in blocks]),
                            capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)
    assert result.returncode == 0, result.stderr
    failures = []
    for (where, _, shown, varies), (error, printed) in zip(
            blocks, json.loads(result.stdout.strip().splitlines()[-1])):
        if error:
            failures.append(error)
        elif shown is not None and not output_matches(printed, shown, varies):
            failures.append(f"{where} printed\n{printed}\nbut the doc shows\n{shown}")
    return failures


def excerpt_problems(text, root=REPO_ROOT):
    """Excerpts whose lines (stripped of indentation) no longer appear, in a row, in their file."""
    problems = []
    for _, body, line, before in fenced_blocks(text):
        mark = EXCERPT_MARK.search(before)
        if not mark:
            continue
        path = root / mark.group(1)
        if not path.exists():
            problems.append(f"line {line}: excerpt of {mark.group(1)}, which does not exist")
            continue
        wanted = [row.strip() for row in body.splitlines() if row.strip()]
        source = [row.strip() for row in read(path).splitlines()]
        if not any(source[start:start + len(wanted)] == wanted for start in range(len(source))):
            problems.append(f"line {line}: excerpt not found in {mark.group(1)}")
    return problems


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_every_python_block_runs_and_prints_what_the_doc_shows(doc):
    failures = block_failures(read(doc), doc.name)
    assert not failures, "\n".join(failures)


def test_every_excerpt_is_still_in_its_file():
    text = read(LAYERS_DOC)
    assert len([block for block in fenced_blocks(text) if EXCERPT_MARK.search(block[3])]) >= 4
    assert excerpt_problems(text) == []


# --- each check can fail ------------------------------------------------------------------------

def test_a_moved_file_is_caught():
    text = "The pool lives in `minicnn/kernels/threads.py` (see [perf](nowhere.md)).\n"
    problems = path_problems(text, REPO_ROOT / "docs")
    assert len(problems) == 2
    assert "minicnn/kernels/threads.py does not exist" in problems[0]
    assert "nowhere.md" in problems[1]
    assert path_problems("`tests/test_models.py::no_such_test`", REPO_ROOT) == [
        "line 1: tests/test_models.py defines no no_such_test"]


def test_a_name_in_the_wrong_file_is_caught():
    text = ("**Implemented in** `minicnn/functional/conv.py`: `conv2d_forward`,\n"
            "`relu_forward`; `minicnn/layers/relu.py`: `ReLU.backward_rule`, `ReLU.unpool`.\n")
    assert name_problems(text + "\n## Where everything lives\n") == [
        "line 1: relu_forward is not defined in minicnn/functional/conv.py",
        "line 2: ReLU.unpool is not defined in minicnn/layers/relu.py"]
    table = ("## Where everything lives\n\n| concept | file | functions |\n|---|---|---|\n"
             "| threads | `minicnn/kernels/conv_numba.py` | `run_chunks` |\n")
    assert name_problems(table) == [
        "line 5: run_chunks is not defined in minicnn/kernels/conv_numba.py"]


def test_a_block_that_raises_is_caught():
    text = ("```python\nprint('fine')\n```\n\n"
            "```python\nfrom minicnn.layers import conv2d_naive\n```\n")
    failures = block_failures(text, "broken.md")
    assert len(failures) == 1
    assert "broken.md, block at line 5" in failures[0] and "ImportError" in failures[0]


def test_an_edited_excerpt_is_caught():
    good = ("<!-- excerpt: minicnn/functional/relu.py -->\n```\n"
            "mask = x > 0\n    return x * mask, mask\n```\n")
    assert excerpt_problems(good) == []
    assert excerpt_problems(good.replace("x * mask", "x * ~mask")) == [
        "line 2: excerpt not found in minicnn/functional/relu.py"]


def test_a_block_that_prints_something_else_than_the_doc_shows_is_caught():
    text = ("```python\nprint(1 + 1)\n```\n\n```\n3\n```\n\n"
            "```python\nprint('took', 12.5, 'ms')\n```\n\n<!-- output: figures vary -->\n"
            "```\ntook 3.0 ms\n```\n\n"
            "```python\nprint('took', 12.5, 'seconds')\n```\n\n<!-- output: figures vary -->\n"
            "```\ntook 3.0 ms\n```\n\n"
            "<!-- not run: a listing -->\n```python\nraise SystemExit(1)\n```\n")
    failures = block_failures(text, "stale.md")
    assert len(failures) == 2
    assert "stale.md, block at line 1 printed\n2\n" in failures[0]
    assert "block at line 18 printed\ntook 12.5 seconds" in failures[1]
