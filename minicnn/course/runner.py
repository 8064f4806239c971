"""Running a student's functions in a child process that cannot touch the grade.

``grade`` (minicnn.course.grading) asks a ``Child`` to call the student's
functions; the child (worker.py's source, read when this module is imported
and run with ``python -I -c``, so never read from disk again) only
runs them and sends back what they returned. Everything else happens here, in
the parent: the inputs are drawn, the reference is computed, the replies are
checked and compared, and the results are written. So whatever the student's
code does inside its process (patch numpy or the grader's functions there,
print, write on any file descriptor it finds, change directory, start
processes that call ``setsid``) it cannot change a verdict:

- the two pipes are the child's only channel; a reply that is malformed,
  larger than worker.MAX_MESSAGE or late fails the submission, not the run;
- the child starts in an empty scratch folder, with stdout on /dev/null and
  stderr on a pipe of which the parent keeps the last 2,000 bytes;
- each request has a deadline (the function's ``timeout``); past it the child
  is killed, with everything it started: on Linux the grading process is a
  child subreaper (prctl PR_SET_CHILD_SUBREAPER) while a child runs, so every
  descendant, ``setsid`` or not, is reparented to it when its parent dies,
  and ``Child.stop`` kills and reaps them all before it returns.

What it cannot do: keep the student's code from reading or writing what the
grading user may (the network, the home folder, the files of other
submissions). Grade code you do not trust inside a container or a virtual
machine; docs/gradcheck.md, "What grading protects", says more.
"""
import ctypes
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from . import worker

DEFAULT_TIMEOUT = 60.0    # seconds per function; the reference needs about 1 for the slowest
STARTUP_TIMEOUT = 60.0    # for the child to import numpy on a loaded machine
STDERR_KEPT = 2000        # bytes of the child's stderr kept for a message
PR_SET_CHILD_SUBREAPER = 36
# read once, here: a submission that rewrites worker.py on disk changes no later child
WORKER_SOURCE = pathlib.Path(worker.__file__).read_text(encoding="utf-8")


class ChildFailed(Exception):
    """The child died, broke the protocol or ran past its deadline: ``kind`` ("died",
    "protocol", "timeout") says which, the message how."""

    def __init__(self, message, kind="died"):
        super().__init__(message)
        self.kind = kind


class Child:
    """A worker process on a submission folder, and its two pipes."""

    def __init__(self, package, references):
        self.package = pathlib.Path(package).resolve()
        self.scratch = tempfile.mkdtemp(prefix="minicnn-grading-")
        self.reaper = _Subreaper()
        requests_read, self.requests = os.pipe()
        self.replies, replies_write = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-c", WORKER_SOURCE, str(self.package),
                 str(requests_read), str(replies_write)],
                pass_fds=(requests_read, replies_write), cwd=self.scratch,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                start_new_session=True)
        except BaseException:
            os.close(self.requests)
            os.close(self.replies)
            self.reaper.release()
            raise
        finally:
            os.close(requests_read)
            os.close(replies_write)
        self.stderr_tail = b""
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()
        try:
            self.request({"op": "references", "modules": references}, STARTUP_TIMEOUT,
                         expect_ready=True)
        except ChildFailed:
            self.stop()
            raise

    def _read_stderr(self):
        for chunk in iter(lambda: self.process.stderr.read1(65536), b""):
            self.stderr_tail = (self.stderr_tail + chunk)[-STDERR_KEPT:]

    def request(self, message, timeout, expect_ready=False):
        """Send ``message``, wait at most ``timeout`` s for the reply -> the reply's dict.
        ChildFailed (the child is then stopped) when it dies, is late or breaks the protocol."""
        deadline = time.monotonic() + timeout
        try:
            if expect_ready:
                ready = worker.receive(self.replies, deadline)
                if ready != {"ready": True}:
                    raise worker.ProtocolError("no 'ready' first")
            worker.send(self.requests, message)
            return worker.receive(self.replies, deadline)
        except TimeoutError:
            kind, reason = "timeout", f"no reply within {timeout:.3g} s: an endless loop?"
        except (worker.ProtocolError, OSError) as error:
            time.sleep(0.05)   # a child that is dying: say so rather than blame the protocol
            if self.process.poll() is None:
                kind, reason = "protocol", (
                    f"it broke the grader's protocol ({error}): did the code write on a file "
                    "descriptor it does not own?")
            else:
                kind = "died"
                reason = f"the grading process died while grading it ({self.death()})"
        self.stop()
        raise ChildFailed(reason, kind)

    def death(self):
        """How the child ended, with the last line it wrote on stderr."""
        status = self.process.wait()
        how = (f"killed by {signal.Signals(-status).name}" if status < 0
               else f"exit status {status}")
        self._drain.join(timeout=1)
        tail = self.stderr_tail.decode("utf-8", "replace").strip()
        return how + (f": {tail.splitlines()[-1][:300]}" if tail else "")

    def stop(self):
        """Kill the child and everything it started, and wait until all of them are gone."""
        if self.process.returncode is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.process.kill()
            self.process.wait()
        self.reaper.reap()
        for fd in (self.requests, self.replies):
            try:
                os.close(fd)
            except OSError:
                pass
        self.requests = self.replies = -1
        self._drain.join(timeout=5)
        self.process.stderr.close()
        self.reaper.release()
        shutil.rmtree(self.scratch, ignore_errors=True)


class _Subreaper:
    """While it is held, the orphans of the child are this process's children (Linux), and
    ``reap`` kills and reaps every child of this process that was not there before."""

    def __init__(self):
        self.before = _children()
        self.active = sys.platform.startswith("linux") and _set_subreaper(True)

    def reap(self):
        if not self.active:
            return
        for _ in range(1000):
            strangers = _children() - self.before
            if not strangers:
                return
            for pid in strangers:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            for pid in strangers:
                try:
                    os.waitpid(pid, 0)
                except ChildProcessError:
                    pass

    def release(self):
        if self.active:
            self.reap()
            _set_subreaper(False)
            self.active = False


def _set_subreaper(on):
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _children():
    """The pids whose parent is this process, from /proc (empty where there is none)."""
    me, found = os.getpid(), set()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 1 and int(fields[1]) == me:
            found.add(int(entry))
    return found
