"""Hostile submissions (issue 23): none may change its own grade or anyone else's, nor stop a
folder's grading.

Each probe is one that changed a grade, or stopped a run, before the student's code ran in a
child that only returns arrays (minicnn.course.runner). They grade relu.py's two functions
(5 points), or one of them, to stay fast.
"""
import csv
import json
import os
import sys
import time

import pytest

from minicnn.cli import main
from minicnn.course import EXERCISES, grade
from minicnn.course.exercises import SOURCE_FOLDER, exercises_in

RELU = (SOURCE_FOLDER / "relu.py").read_text(encoding="utf-8")
SKELETON_RELU = ("def relu_forward(x):\n    raise NotImplementedError\n\n\n"
                 "def relu_backward(dout, cache):\n    raise NotImplementedError\n")


def submission(folder, relu_source):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "relu.py").write_text(relu_source, encoding="utf-8")
    return folder


def scores(results):
    return {result.exercise.function: result.score for result in results}


FORGE = '''
import json, os
forged = json.dumps({"function": "relu_forward", "error": "", "cases": [], "ok": True,
                     "result": {"nd": ["<f8", [1], "AAAAAAAA8D8="]}}).encode()
for fd in range(3, 256):
    for data in (forged + b"\\n", len(forged).to_bytes(4, "big") + forged):
        try:
            os.write(fd, data)
        except OSError:
            pass
'''


def test_forged_result_lines_on_every_pipe_score_nothing_and_the_folder_goes_on(tmp_path):
    submission(tmp_path / "subs" / "forger", FORGE + SKELETON_RELU)
    submission(tmp_path / "subs" / "honest", RELU)
    gradebook = tmp_path / "grades.csv"
    assert main(["grade", str(tmp_path / "subs"), "--only", "relu_forward", "relu_backward",
                 "--json", "--csv", str(gradebook), "--seed", "3"]) == 0
    rows = list(csv.DictReader(gradebook.read_text().splitlines()))
    assert [(row["submission"], row["score"]) for row in rows] == [("forger", "0"),
                                                                   ("honest", "5")]


@pytest.mark.parametrize("garbage", [b"this is not json\n", len(b"not json").to_bytes(4, "big")
                                     + b"not json", b"\x00\x00\x10\x00" + b"[" * 4096])
def test_garbage_on_the_pipe_fails_that_submission_only(tmp_path, garbage, capsys):
    writer = (f"import os\nfor fd in range(3, 64):\n    try:\n        os.write(fd, {garbage!r})\n"
              "    except OSError:\n        pass\n")
    submission(tmp_path / "subs" / "a_garbler", RELU.replace(
        "    mask = x > 0\n", "    mask = x > 0\n" + "".join(
            "    " + line + "\n" for line in writer.splitlines())))
    submission(tmp_path / "subs" / "b_honest", RELU)
    assert main(["grade", str(tmp_path / "subs"), "--only", "relu_forward", "relu_backward",
                 "--json", "--seed", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [(each["name"], each["score"]) for each in report["submissions"]] == [
        ("a_garbler", 0), ("b_honest", 5)]
    assert "broke the grader's protocol" in report["submissions"][0]["tests"][0]["output"]
    assert report["seed"] == 1


SLEEPER = '''
import os, subprocess, sys
sleeper = subprocess.Popen(["setsid", "sleep", "300"])
with open(os.environ["MINICNN_TEST_PIDS"], "a") as pids:
    pids.write(f"{sleeper.pid}\\n")
'''


def test_a_setsid_sleeper_neither_holds_grading_up_nor_outlives_it(tmp_path, monkeypatch):
    pids = tmp_path / "pids"
    monkeypatch.setenv("MINICNN_TEST_PIDS", str(pids))
    submission(tmp_path / "sleeper", SLEEPER + RELU)
    started = time.monotonic()
    results = grade(tmp_path / "sleeper", exercises_in("relu.py"), timeout=20, seed=0)
    assert time.monotonic() - started < 20
    assert scores(results) == {"relu_forward": 2, "relu_backward": 3}
    started_pids = [int(line) for line in pids.read_text().split()]
    assert len(started_pids) == 2   # one per load of relu.py
    for pid in started_pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)   # killed and reaped: not even a zombie left


def test_a_detached_grandchild_of_an_endless_loop_is_gone_too(tmp_path, monkeypatch):
    pids = tmp_path / "pids"
    monkeypatch.setenv("MINICNN_TEST_PIDS", str(pids))
    source = RELU.replace("    mask = x > 0\n", "    mask = x > 0\n" + "".join(
        "    " + line + "\n" for line in SLEEPER.strip().splitlines()) + "    while True:\n"
        "        pass\n")
    submission(tmp_path / "looper", source)
    started = time.monotonic()
    relu_forward = next(each for each in EXERCISES if each.function == "relu_forward")
    [result] = grade(tmp_path / "looper", [relu_forward], timeout=2, seed=0)
    assert result.error.startswith("no result within 2 s")
    assert time.monotonic() - started < 15
    for pid in [int(line) for line in pids.read_text().split()]:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


PATCH_NUMPY = '''
import numpy
numpy.abs = lambda x, *a, **k: x * 0
numpy.isfinite = lambda x, *a, **k: numpy.ones(numpy.shape(x), bool)
numpy.testing = None
'''


def test_patching_numpy_changes_nothing_but_the_students_own_process(tmp_path):
    wrong = RELU.replace("    mask = x > 0\n", "    mask = x > -0.5   # wrong\n")
    submission(tmp_path / "patched", PATCH_NUMPY + wrong)
    submission(tmp_path / "plain", wrong)
    patched = scores(grade(tmp_path / "patched", exercises_in("relu.py"), seed=2))
    plain = scores(grade(tmp_path / "plain", exercises_in("relu.py"), seed=2))
    assert patched == plain and patched["relu_forward"] == 0 and patched["relu_backward"] == 3


def test_os_chdir_in_a_submission_costs_no_one_anything(tmp_path, monkeypatch, capsys):
    submission(tmp_path / "subs" / "a_wanderer", "import os\nos.chdir('/')\n" + RELU)
    submission(tmp_path / "subs" / "b_honest", RELU)
    monkeypatch.chdir(tmp_path)
    assert main(["grade", "subs", "--only", "relu_forward", "relu_backward", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [each["score"] for each in report["submissions"]] == [5, 5]
    assert os.getcwd() == str(tmp_path)


def test_the_grading_process_reads_no_file_once_grading_starts(tmp_path):
    """A submission that rewrites the grader's files (worker.py, grading.py, minicnn's
    functional/*.py) on a writable install changes nothing: the parent read them all before."""
    submission(tmp_path / "rewriter", RELU)
    opened = []
    watching = [False]

    def audit(event, arguments):
        if watching[0] and event == "open" and isinstance(arguments[0], str):
            opened.append(arguments[0])

    sys.addaudithook(audit)   # an audit hook cannot be removed: it records only while watching
    watching[0] = True
    try:
        grade(tmp_path / "rewriter", exercises_in("relu.py"), seed=0)
    finally:
        watching[0] = False
    package = str(SOURCE_FOLDER.parent)
    assert [path for path in opened if path.startswith(package)] == []
    if sys.platform.startswith("linux"):
        assert any(path.startswith("/proc/") for path in opened)   # the hook did record


def test_csv_to_a_folder_is_refused_before_any_student_code_runs(tmp_path, capsys):
    marker = tmp_path / "ran"
    submission(tmp_path / "sub", f"open({str(marker)!r}, 'w').close()\n" + RELU)
    assert main(["grade", str(tmp_path / "sub"), "--csv", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(f"error: --csv {tmp_path} is a folder: name a file")
    assert not marker.exists()


def test_a_submission_named_like_a_formula_is_escaped_in_the_gradebook(tmp_path):
    submission(tmp_path / "subs" / "=HYPERLINK(1)", RELU)
    submission(tmp_path / "subs" / "@SUM(A1)", RELU)
    gradebook = tmp_path / "grades.csv"
    assert main(["grade", str(tmp_path / "subs"), "--only", "relu_backward", "--csv",
                 str(gradebook), "--seed", "5"]) == 0
    rows = list(csv.reader(gradebook.read_text().splitlines()))
    assert [row[0] for row in rows[1:]] == ["'=HYPERLINK(1)", "'@SUM(A1)"]
    assert rows[0][-1] == "seed" and rows[1][-1] == "5"


def test_a_5_mb_message_and_5_mb_of_stderr_are_capped(tmp_path):
    submission(tmp_path / "flood", RELU.replace(
        "    return dout * cache",
        "    import sys\n    sys.stderr.write('e' * 5_000_000)\n"
        "    raise ValueError('x' * 5_000_000)"))
    results = grade(tmp_path / "flood", exercises_in("relu.py"), seed=0)
    assert scores(results) == {"relu_forward": 2, "relu_backward": 0}
    errors = [case.error for case in results[1].cases]
    assert errors and all(error.startswith("ValueError: xxx") and len(error) < 2200
                          for error in errors)
    assert len(json.dumps(results[1].cases[0].failures)) < 2200


def test_a_reply_over_the_size_limit_fails_the_submission(tmp_path, monkeypatch):
    from minicnn.course import worker
    monkeypatch.setattr(worker, "MAX_MESSAGE", 10_000)   # the parent's limit
    submission(tmp_path / "big", RELU.replace("    return x * mask, mask",
                                              "    return x * mask, (mask, [0.0] * 100_000)"))
    [forward] = grade(tmp_path / "big", exercises_in("relu.py")[:1], seed=0)
    assert forward.score == 0 and "over the limit of 10,000" in forward.error


def test_a_subclass_or_object_array_is_no_ndarray(tmp_path):
    submission(tmp_path / "types", "import numpy as np\n" + RELU.replace(
        "    return x * mask, mask", "    return np.ma.masked_array(x * mask), mask").replace(
        "    return dout * cache", "    return (dout * cache).astype(object)"))
    forward, backward = grade(tmp_path / "types", exercises_in("relu.py"), seed=0)
    assert forward.score == 0 and backward.score == 0
    assert "returned a MaskedArray (a subclass of numpy.ndarray)" in forward.cases[0].error
    assert "returned an array of dtype object" in backward.cases[0].error
