"""Grading a student's code in a child process, with a time limit per function.

A student's code may loop forever, crash the interpreter, or print a flood.
``grade`` starts ``python -m minicnn.course.worker``, which grades the
functions one after the other and reports each on a line of its own; the
parent waits at most ``timeout`` seconds for each. A function that takes
longer, or whose grading kills the child, scores 0 with that said, and a fresh
child grades the functions after it.

That is all it contains. The student's code runs with the grader's rights: it
can read and write files, use the network, or fill the memory, as with every
autograder. Grade code you do not trust inside a container or a virtual machine.
"""
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading

from .exercises import EXERCISES
from .grading import FunctionResult

DEFAULT_TIMEOUT = 60.0    # seconds per function; the reference needs about 1 for the slowest
STARTUP_TIMEOUT = 120.0   # for the child to import numpy and minicnn on a loaded machine


def grade(package, exercises=EXERCISES, timeout=DEFAULT_TIMEOUT):
    """[FunctionResult] for each exercise of the submission folder ``package``, each graded in a
    child process within ``timeout`` seconds."""
    results, pending = [], list(exercises)
    while pending:
        child = _Child(package, [exercise.function for exercise in pending])
        try:
            while pending:
                exercise = pending.pop(0)
                try:
                    line = child.next_line(timeout)
                except queue.Empty:
                    results.append(FunctionResult(exercise, error=(
                        f"no result within {timeout:g} s: an endless loop? (grading stopped it; "
                        "the functions after it were graded in a fresh process)")))
                    break
                if line is None:
                    results.append(FunctionResult(exercise, error=(
                        f"the grading process died while grading it ({child.death()})")))
                    break
                results.append(FunctionResult.from_dict(json.loads(line)))
        finally:
            child.stop()
    return results


class _Child:
    """A running worker, and the lines it has written, read by a thread of their own."""

    def __init__(self, package, names):
        self.errors = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"{__package__}.worker", str(package), *names],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.errors,
            start_new_session=True)   # its own process group: stop() ends what it forked too
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        try:
            ready = self.next_line(STARTUP_TIMEOUT)
        except queue.Empty:
            ready = f"nothing within {STARTUP_TIMEOUT:g} s"
            self.process.kill()
        if ready != "ready":
            how = self.death()
            self.stop()
            raise RuntimeError(f"the grading process did not start ({ready!r}; {how})")

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line.decode("utf-8").strip())
        self.lines.put(None)

    def next_line(self, timeout):
        """The next line, None once the child has exited; queue.Empty after ``timeout`` s."""
        return self.lines.get(timeout=timeout)

    def death(self):
        """How the child ended, with the end of what it wrote on stderr."""
        status = self.process.wait()
        how = (f"killed by {signal.Signals(-status).name}" if status < 0
               else f"exit status {status}")
        self.errors.seek(0)
        tail = self.errors.read()[-2000:].decode("utf-8", "replace").strip()
        return how + (f": {tail.splitlines()[-1]}" if tail else "")

    def stop(self):
        # the whole group: a process the student's code forked would hold stdout open
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        self.process.stdout.close()
        self.errors.close()
