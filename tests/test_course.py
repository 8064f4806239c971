"""The course kit: the skeleton, the students' tests, grading bad submissions, the two commands.

The catalogue of student bugs, graded function by function, is in test_course_catalogue.py.
Grading in child processes costs about a second per child: those tests grade one or two
functions only.
"""
import ast
import csv
import json
import shutil
import subprocess
import sys
import time

import pytest

from minicnn.cli import main
from minicnn.cli.exits import BAD_DATA
from minicnn.course import (EXERCISES, FunctionResult, KitError, SubmissionError, csv_table,
                            find_submissions, grade, gradescope, skeleton_source,
                            summary, text_report, write_kit)
from minicnn.course import statements
from minicnn.course.exercises import FILES, GIVEN, HINTS, LEFT_OUT, SOURCE_FOLDER, exercises_in
from minicnn.course.grading import pair
from minicnn.gradcheck import SWEEPS

from .test_course_catalogue import CATALOGUE, submit


def exercise(name):
    return next(exercise for exercise in EXERCISES if exercise.function == name)


def functions(tree):
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


def reference_copy(folder):
    """A submission folder holding minicnn's own files: the solution, as a student hands it in."""
    folder.mkdir(parents=True, exist_ok=True)
    for file in FILES:
        shutil.copy(SOURCE_FOLDER / file, folder / file)
    return folder


# --- the skeleton -------------------------------------------------------------------------------

def test_the_kit_files_are_minicnn_functional_files():
    assert sorted(FILES) == sorted(path.name for path in SOURCE_FOLDER.glob("*.py")
                                   if path.name != "__init__.py")


@pytest.mark.parametrize("hints", HINTS)
@pytest.mark.parametrize("file", FILES)
def test_the_skeleton_keeps_signatures_docstrings_and_helpers_and_blanks_the_bodies(file, hints):
    source = ast.parse((SOURCE_FOLDER / file).read_text(encoding="utf-8"))
    skeleton = ast.parse(skeleton_source(file, hints=hints))
    todo = {exercise.function for exercise in exercises_in(file)}
    if hints == "formula" or not todo:
        assert ast.get_docstring(skeleton) == ast.get_docstring(source)
    else:
        statement = (statements.MODULES[file] + "\nThe derivations: minicnn's "
                     f"{statements.DERIVATIONS[file]}.")
        assert ast.get_docstring(skeleton).split() == statement.split()
    ours, theirs = functions(source), functions(skeleton)
    assert set(theirs) == set(ours) - set(LEFT_OUT)
    for name, node in theirs.items():
        original = ours[name]
        if name in todo:
            assert ast.dump(node.args) == ast.dump(original.args)
            assert ast.get_docstring(node) == (ast.get_docstring(original) if hints == "formula"
                                               else statements.FUNCTIONS[name])
            assert ast.unparse(node.body[1:]) == f"raise NotImplementedError('TODO: write {name}')"
        else:
            assert name in GIVEN and ast.dump(node) == ast.dump(original)
    classes = [ast.dump(node) for node in skeleton.body if isinstance(node, ast.ClassDef)]
    assert classes == [ast.dump(node) for node in source.body if isinstance(node, ast.ClassDef)]
    header = skeleton_source(file, hints=hints).split('"""')[0]
    assert f"from minicnn/functional/{file}" in header
    assert all(name in header for name in set(ours) & set(LEFT_OUT))


# the formulas that are answers, as minicnn's docstrings state them (issue 20, part 6)
ANSWERS = {"relu.py": ["dout * mask", "R_in = 1[x > 0] * R"],
           "dropout.py": ["dout * mask", "keep / (1 - p)"],
           "loss.py": ["(p - q) / N", "(p - onehot(y)) / N"],
           "batchnorm.py": ["inv_std / M * (M * dx_hat", "inv_std * dx_hat", "sum dout * x_hat"],
           "dense.py": ["x^T @ dout", "dout @ W^T"],
           "conv.py": ["dout[n] @ cols[n]^T", "W_rows^T @ dout", "W_rows @ cols + b"],
           "pool.py": ["dout / (H*W)", "dout at the switches"]}


@pytest.mark.parametrize("file", sorted(ANSWERS))
def test_the_default_skeleton_states_no_formula_that_is_an_answer(file):
    original = (SOURCE_FOLDER / file).read_text(encoding="utf-8")
    assert all(answer in original for answer in ANSWERS[file])   # the test can fail
    assert skeleton_source(file) == skeleton_source(file, hints="none")
    for answer in ANSWERS[file]:
        assert answer not in skeleton_source(file)
    assert all(answer in skeleton_source(file, hints="formula") for answer in ANSWERS[file]
               if "R_in" not in answer)   # the deconvnet rules are left out at every level
    assert "docs/layers.md, section" in skeleton_source(file)
    with pytest.raises(ValueError, match="hints must be one of"):
        skeleton_source(file, hints="all")


def test_an_exercise_without_a_statement_stops_the_skeleton(monkeypatch):
    monkeypatch.delitem(statements.FUNCTIONS, "relu_backward")
    with pytest.raises(ValueError, match="relu_backward has no statement"):
        skeleton_source("relu.py")
    assert "dout * mask" in skeleton_source("relu.py", hints="formula")


def test_a_function_the_tables_do_not_name_stops_the_skeleton():
    source = (SOURCE_FOLDER / "relu.py").read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="relu.py defines leaky_relu_forward, which .* add it "
                                         "to EXERCISES, GIVEN or LEFT_OUT"):
        skeleton_source("relu.py", source + "\n\ndef leaky_relu_forward(x):\n    return x\n")


def test_the_untouched_skeleton_scores_nothing_and_says_what_to_write(tmp_path):
    write_kit(tmp_path)
    results = grade(tmp_path / "functional")
    assert sum(result.score for result in results) == 0
    for result in results:
        assert all(f"NotImplementedError: TODO: write {result.exercise.function} "
                   f"({result.exercise.file}, line" in case.error for case in result.cases)


# --- writing the kit ----------------------------------------------------------------------------

def test_write_kit_refuses_a_folder_with_something_in_it_unless_forced(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(KitError, match=r"is not empty \(it holds notes.txt\): choose a new or "
                                       "empty folder, or pass --force"):
        write_kit(tmp_path)
    assert not (tmp_path / "README.md").exists()
    with pytest.raises(KitError, match="is a file, not a folder"):
        write_kit(tmp_path / "notes.txt")
    (tmp_path / "functional").mkdir()
    (tmp_path / "functional" / "relu.py").write_text("# a student's work")
    written = write_kit(tmp_path, force=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert (tmp_path / "functional" / "relu.py").read_text() == skeleton_source("relu.py")
    assert {path.relative_to(tmp_path).as_posix() for path in written} == {
        "README.md", "pytest.ini", "test_exercises.py", "functional/__init__.py",
        *(f"functional/{file}" for file in FILES)}


def test_the_readme_lists_every_function_and_its_points(tmp_path):
    write_kit(tmp_path)
    readme = (tmp_path / "README.md").read_text()
    for each in EXERCISES:
        assert f"| `{each.file}` | `{each.function}` | {each.points:g} |" in readme
    assert "| | **total** | **100** |" in readme and "$" not in readme
    for file, where in statements.DERIVATIONS.items():   # where the derivations are
        assert f"| `{file}` | {where} |" in readme
    assert "not the formula itself" in readme
    assert "gives the formulas" in (write_kit(tmp_path / "formula", hints="formula")[0]
                                    .read_text())


def test_the_students_tests_pass_the_solution_and_fail_exactly_the_broken_function(tmp_path):
    """The kit's own pytest run, on minicnn's files with one bug in relu_backward."""
    write_kit(tmp_path)
    reference_copy(tmp_path / "functional")
    relu_bug = next(bug for bug in CATALOGUE if bug.name == "relu backward uses the sign wrongly")
    submit(tmp_path / "functional", relu_bug)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    cases = sum(len(SWEEPS[each.operation]) for each in EXERCISES)
    assert f"2 failed, {cases - 2} passed" in run.stdout, run.stdout[-3000:]
    failed = [line for line in run.stdout.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 2 and all("test_function[relu_backward: " in line for line in failed)
    assert "gradient check of minicnn's relu_forward with your relu_backward" in run.stdout


# --- bad submissions ----------------------------------------------------------------------------

def test_a_file_that_does_not_import_costs_its_functions_only(tmp_path):
    reference_copy(tmp_path)
    (tmp_path / "relu.py").write_text("def relu_forward(x)\n    return x\n")
    (tmp_path / "dropout.py").write_text("import no_such_module_anywhere\n")
    (tmp_path / "dense.py").unlink()
    (tmp_path / "pool.py").write_text((SOURCE_FOLDER / "pool.py").read_text().replace(
        "def maxpool_backward", "def max_pool_backward"))
    results = {result.exercise.function: result for result in grade(tmp_path)}
    errors = {name: result.error for name, result in results.items() if result.error}
    assert errors == {
        "relu_forward": "relu.py does not compile: expected ':' (line 1)",
        "relu_backward": "relu.py does not compile: expected ':' (line 1)",
        "dropout_forward": "dropout.py failed while it was imported: ModuleNotFoundError: No "
                           "module named 'no_such_module_anywhere' (dropout.py, line 1, in "
                           "<module>)",
        "dropout_backward": "dropout.py failed while it was imported: ModuleNotFoundError: No "
                            "module named 'no_such_module_anywhere' (dropout.py, line 1, in "
                            "<module>)",
        **{name: f"no dense.py in {tmp_path}" for name in
           ("dense_forward", "dense_backward", "flatten_forward", "flatten_backward")},
        "maxpool_backward": "pool.py has no function maxpool_backward"}
    assert all(results[name].score == 0 for name in errors)
    assert all(result.score == result.exercise.points for name, result in results.items()
               if name not in errors)


def test_minicnn_s_own_functions_are_out_of_reach_and_graded_as_not_written(tmp_path):
    """Importing the reference (absolutely, at import or inside the function), taking another
    file's answer through the relative imports, or wrapping one in functools.partial: 0."""
    (tmp_path / "relu.py").write_text("from minicnn.functional.relu import *\n")
    (tmp_path / "dense.py").write_text("from . import dense\ndense_forward = dense.dense_forward\n")
    (tmp_path / "dropout.py").write_text(
        "import functools\nfrom .relu import relu_backward\n"
        "dropout_forward = functools.partial(relu_backward)\n"   # dout * cache, as dropout's
        "dropout_backward = relu_backward\n")
    (tmp_path / "pool.py").write_text(
        (SOURCE_FOLDER / "pool.py").read_text().replace(
            "def global_avg_pool_forward(x):\n",
            "def global_avg_pool_forward(x):\n    import minicnn.functional as F\n"
            "    return F.global_avg_pool_forward(x)\n"))
    results = grade(tmp_path, exercises_in("relu.py") + exercises_in("dense.py")[:1]
                    + exercises_in("dropout.py") + [exercise("global_avg_pool_forward")])
    assert [result.error for result in results[:2]] == [
        "relu.py failed while it was imported: ImportError: a submission cannot import "
        "minicnn: minicnn's reference is not available while grading (write "
        "the function yourself) (relu.py, line 1, in <module>)"] * 2
    assert results[2].error.startswith("dense.py failed while it was imported: AttributeError: ")
    assert results[2].error.endswith(".dense' has no attribute 'dense_forward' (dense.py, line 2, "
                                     "in <module>)")
    assert [result.error for result in results[3:5]] == [
        f"dropout.py's {name} is minicnn's own, taken from one of its other files: write it in "
        "dropout.py" for name in ("dropout_forward", "dropout_backward")]
    average = results[5]
    assert average.score == 0 and all(
        case.error.startswith("ImportError: a submission cannot import minicnn: ")
        for case in average.cases)


def test_each_file_is_graded_with_minicnn_s_other_files(tmp_path):
    """conv.py imports im2col and col2im: a broken im2col.py must not cost conv2d's points."""
    reference_copy(tmp_path)
    (tmp_path / "im2col.py").write_text("raise RuntimeError('half written')\n")
    results = grade(tmp_path, exercises_in("im2col.py") + exercises_in("conv.py"))
    assert [result.score for result in results] == [0, 0, 7, 15]
    assert "im2col.py failed while it was imported: RuntimeError: half written" in results[0].error


def test_what_a_case_raises_is_shown_with_the_student_s_line(tmp_path):
    reference_copy(tmp_path)
    source = (SOURCE_FOLDER / "dense.py").read_text()
    line = source[:source.index("return dout.reshape(cache)")].count("\n") + 1
    (tmp_path / "dense.py").write_text(source.replace(
        "return x @ weight + bias, DenseCache(x, weight)",
        "return x @ weight + bias, (x, weight)   # a tuple, not the cache class").replace(
        "return dout.reshape(cache)", "raise SystemExit('done')"))
    [forward, _, _, flatten_backward] = grade(tmp_path, exercises_in("dense.py"))
    assert forward.score == 0
    assert all(case.error == "AttributeError: 'tuple' object has no attribute 'x' (in minicnn's "
                             "dense_parameter_gradients, on what your function returned: keep "
                             "the cache class and the shapes of the docstring)"
               for case in forward.cases)
    assert flatten_backward.cases[0].error == \
        f"SystemExit: done (dense.py, line {line}, in flatten_backward)"


def test_a_wrong_shape_fails_the_case_with_the_shapes(tmp_path):
    bug = next(bug for bug in CATALOGUE if bug.name == "flatten backward forgets the reshape")
    submit(tmp_path, bug)
    [result] = grade(tmp_path, [exercise("flatten_backward")])
    assert result.cases[0].error == ("ValueError: flatten_forward / flatten_backward: gradient "
                                     "dx has shape (2, 60), expected (2, 3, 4, 5)")


def test_find_submissions(tmp_path):
    with pytest.raises(SubmissionError, match="is not a folder"):
        find_submissions(tmp_path / "missing")
    with pytest.raises(SubmissionError, match="holds no submission: expected the kit's layout"):
        find_submissions(tmp_path)
    write_kit(tmp_path / "kit")
    assert find_submissions(tmp_path / "kit") == [(str(tmp_path / "kit"),
                                                    tmp_path / "kit" / "functional")]
    reference_copy(tmp_path / "flat")
    (tmp_path / "nothing handed in").mkdir()
    (tmp_path / ".git").mkdir()
    assert find_submissions(tmp_path) == [
        ("flat", tmp_path / "flat"), ("kit", tmp_path / "kit" / "functional"),
        ("nothing handed in", tmp_path / "nothing handed in")]


def test_the_im2col_wrappers_carry_the_students_function_names():
    def im2col(x, kernel_h, kernel_w, stride=1, padding=0):
        return x

    def col2im(cols, x_shape, kernel_h, kernel_w, stride=1, padding=0):
        return cols

    forward, backward = pair("im2col", im2col, col2im)
    assert (forward.__name__, backward.__name__) == ("im2col", "col2im")


# --- child processes: time limits and crashes ---------------------------------------------------

def test_an_endless_loop_or_a_crash_costs_one_function_and_the_rest_is_graded(tmp_path):
    reference_copy(tmp_path)
    relu = (SOURCE_FOLDER / "relu.py").read_text()
    (tmp_path / "relu.py").write_text(relu.replace(
        '    mask = x > 0\n', '    while True:\n        pass\n').replace(
        "    return dout * cache", "    print('debugging', dout.shape)\n    return dout * cache"))
    (tmp_path / "dropout.py").write_text((SOURCE_FOLDER / "dropout.py").read_text().replace(
        "    return dout * cache", "    import os\n    os.abort()"))
    chosen = [exercise(name) for name in ("relu_forward", "relu_backward", "dropout_backward",
                                          "dropout_forward")]
    results = grade(tmp_path, chosen, timeout=2)
    assert [result.exercise for result in results] == chosen
    assert results[0].score == 0 and results[0].error.startswith(
        "no result within 2 s: an endless loop? (grading stopped it")
    assert results[1].score == 3   # its print went nowhere
    assert results[2].score == 0 and results[2].error.startswith(
        "the grading process died while grading it (killed by SIGABRT")
    assert results[3].score == 2


def test_a_process_the_students_code_forks_does_not_hold_grading_up(tmp_path):
    """The forked child keeps the worker's stdout open; it must die with the worker."""
    reference_copy(tmp_path)
    relu = (SOURCE_FOLDER / "relu.py").read_text()
    (tmp_path / "relu.py").write_text(relu.replace(
        '    mask = x > 0\n',
        '    import os, time\n    if os.fork() == 0:\n        time.sleep(40)\n        os._exit(0)\n'
        '    while True:\n        pass\n'))
    started = time.monotonic()
    [result] = grade(tmp_path, [exercise("relu_forward")], timeout=2)
    assert result.score == 0 and result.error.startswith("no result within 2 s")
    assert time.monotonic() - started < 30


# --- feedback -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def graded_col2im_bug(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bob")
    submit(folder, next(bug for bug in CATALOGUE if bug.name == "col2im overwrite"))
    return grade(folder, exercises_in("im2col.py"))


def test_the_text_report_gives_points_the_first_failure_in_full_and_a_total(graded_col2im_bug):
    report = text_report("bob", graded_col2im_bug).splitlines()
    assert report[0] == "bob: 6.25 / 10 points"
    assert report[1:4] == [
        "  im2col.py",
        "    im2col                            5.00 / 5   4 of 4 cases pass",
        "    col2im                            1.25 / 5   1 of 4 cases pass"]
    assert report[4] == "      FAIL on x (2, 3, 6, 5), kernel 3x3, stride 1, padding 1:"
    assert report[5] == "        gradient check of minicnn's im2col with your col2im:"
    assert report[6].startswith("          dx: worst at index (")
    assert report[7:] == [
        "      also FAIL on x (2, 2, 7, 6), kernel 3x3, stride 2, padding 1; x (2, 2, 5, 6), "
        "kernel 2x3, stride 1, padding 0: dx",
        "      passes on x (1, 2, 6, 6), kernel 2x2, stride 2, padding 0",
        "  total: 6.25 / 10"]


def test_gradescope_json_and_the_gradebook(graded_col2im_bug):
    result = gradescope(graded_col2im_bug)
    assert set(result) == {"score", "output", "tests"} and result["score"] == 6.25
    assert [(test["name"], test["score"], test["max_score"]) for test in result["tests"]] == [
        ("im2col.py: im2col", 5, 5), ("im2col.py: col2im", 1.25, 5)]
    assert "gradient check of minicnn's im2col with your col2im" in result["tests"][1]["output"]
    rows = list(csv.reader(csv_table([("bob", graded_col2im_bug)]).splitlines()))
    assert rows[0] == ["submission", "score", "max_score"] + [e.function for e in EXERCISES]
    assert rows[1][:5] == ["bob", "6.25", "10", "5", "1.25"] and rows[1][5:] == [""] * 18
    nothing = [FunctionResult(each, error="no relu.py") for each in EXERCISES[:6]]
    assert summary([("bob", graded_col2im_bug), ("al", graded_col2im_bug[:1]),
                    ("erin", nothing)]).splitlines() == [
        "summary: 3 submissions",
        "  bob     6.25 / 10   lost points: col2im 1.25/5",
        "  al      5.00 / 5",
        "  erin    0.00 / 44   lost points: im2col 0.00/5, col2im 0.00/5, conv2d_forward 0.00/7, "
        "conv2d_backward 0.00/15, and 2 more"]


# --- the commands -------------------------------------------------------------------------------

def test_exercises_command_writes_the_kit_and_refuses_to_overwrite(tmp_path, capsys):
    assert main(["exercises", str(tmp_path / "kit")]) == 0
    out = capsys.readouterr().out
    assert "(11 files; 20 functions to write, 100 points; hints: none)" in out
    assert "dx = dout * mask" not in (tmp_path / "kit" / "functional" / "relu.py").read_text()
    assert main(["exercises", str(tmp_path / "hinted"), "--hints", "formula"]) == 0
    assert "dx = dout * mask" in (tmp_path / "hinted" / "functional" / "relu.py").read_text()
    capsys.readouterr()
    assert main(["exercises", str(tmp_path / "kit")]) == 2
    assert "is not empty (it holds README.md, functional, pytest.ini, test_exercises.py)" in \
        capsys.readouterr().err
    assert main(["exercises", str(tmp_path / "kit"), "--force"]) == 0


def test_grade_command_on_one_submission(tmp_path, capsys):
    reference_copy(tmp_path / "alice")
    assert main(["grade", str(tmp_path / "alice"), "--only", "relu_backward", "--json",
                 "--seed", "7"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["score"] == 3
    assert result["output"] == "total: 3.00 / 3 points (inputs from seed 7)"
    assert result["tests"] == [{"name": "relu.py: relu_backward", "score": 3.0, "max_score": 3,
                                "output": "2 of 2 cases pass"}]
    assert main(["grade", str(tmp_path / "nobody")]) == BAD_DATA
    assert capsys.readouterr().err == f"error: {tmp_path / 'nobody'} is not a folder\n"
    with pytest.raises(SystemExit):
        main(["grade", str(tmp_path / "alice"), "--timeout", "0"])
    assert "--timeout: must be a finite number > 0, got 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["grade", "--help"])
    assert "--seed N" in capsys.readouterr().out


def test_grade_command_on_a_folder_of_submissions(tmp_path, capsys):
    reference_copy(tmp_path / "subs" / "alice")
    submit(reference_copy(tmp_path / "subs" / "bob"),
           next(bug for bug in CATALOGUE if bug.name == "relu backward forgets dout"))
    (tmp_path / "subs" / "carol").mkdir()
    gradebook = tmp_path / "grades.csv"
    assert main(["grade", str(tmp_path / "subs"), "--only", "relu_backward",
                 "--csv", str(gradebook)]) == 0
    captured = capsys.readouterr()
    assert "grading bob (2 of 3)" in captured.err
    assert captured.out.endswith("summary: 3 submissions\n"
                                 "  alice    3.00 / 3\n"
                                 "  bob      0.00 / 3   lost points: relu_backward 0.00/3\n"
                                 "  carol    0.00 / 3   lost points: relu_backward 0.00/3\n")
    assert f"not graded: no relu.py in {tmp_path / 'subs' / 'carol'}" in captured.out
    rows = list(csv.DictReader(gradebook.read_text().splitlines()))
    assert [(row["submission"], row["score"], row["relu_backward"]) for row in rows] == [
        ("alice", "3", "3"), ("bob", "0", "0"), ("carol", "0", "0")]
    assert main(["grade", str(tmp_path / "subs"), "--only", "relu_backward", "--json"]) == 0
    reports = json.loads(capsys.readouterr().out)["submissions"]
    assert [(report["name"], report["score"]) for report in reports] == [
        ("alice", 3), ("bob", 0), ("carol", 0)]
