"""The run folder: where one training run writes, held by one process at a time.

    with hold_run_folder("runs/ahe", resume=False) as held:
        ...                      # train, evaluate, write the reports

Holding a folder checks it, locks it and tidies it:

* ``--out`` must name a folder (or a path one can be made at), not a file.
* Without ``resume`` the folder must not hold an earlier run (its last.npz,
  best.npz or history.json): re-running the README command would otherwise
  overwrite that run's best checkpoint. The refusal names the ways on:
  ``--resume`` to continue it (only when it holds last.npz, the resume point),
  or a free folder (``runs/ahe-2``) for a new one. With ``resume`` it must hold
  last.npz; a folder with best.npz but no last.npz is told the same thing both
  ways: it cannot be continued (best.npz is the best epoch, not the last one).
* The lock is ``.lock`` in the folder, locked with ``flock`` and holding the
  holder's process id. A second run on the folder finds it locked and is
  refused, naming that process. The kernel drops a flock when its process
  ends, however it ends (kill -9 included), so a lock left by a killed run is
  not held: the next run takes it over, and ``held.took_over_from`` names the
  process that left it. (flock is per machine: two machines sharing a folder
  over NFS are not guarded against each other.)
* ``.tmp-*`` files that a killed writer left behind (minicnn/io/atomic.py) are
  removed; ``held.removed`` lists them.

A process may hold a folder it already holds (train_ahe.py holds it from
before the data loads until the last report is written; its Trainer holds it
again during ``fit``): the inner hold only repeats the checks.
"""
import contextlib
import dataclasses
import fcntl
import os
import re

from ..io.atomic import remove_temporaries

LOCK_NAME = ".lock"
RESUME_FROM = "last.npz"
# any of these means an earlier run wrote here (every finished epoch writes all three)
RUN_OUTPUTS = ("last.npz", "best.npz", "history.json")

_held_here = {}   # real path of each folder this process holds -> [lock file descriptor, depth]


class RunFolderError(ValueError):
    """The output folder cannot be used: it is a file, it holds another run, or it is busy."""


class RunFolderBusy(RunFolderError):
    """Another process holds the run folder."""


@dataclasses.dataclass
class HeldFolder:
    """What taking a folder found: a stale lock's process id, and the temporaries removed."""
    path: str
    took_over_from: int | None = None
    removed: list = dataclasses.field(default_factory=list)

    def notes(self):
        """What a user should be told about it, one line each."""
        notes = []
        if self.took_over_from is not None:
            notes.append(f"took over the lock of {self.path} from process {self.took_over_from}, "
                         "which is no longer running")
        if self.removed:
            notes.append(f"removed {len(self.removed)} unfinished temporary file(s) from "
                         f"{self.path}: {', '.join(self.removed)}")
        return notes


@contextlib.contextmanager
def hold_run_folder(path, resume):
    """Check, lock and tidy the run folder ``path`` for the duration of the block -> HeldFolder."""
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise RunFolderError(f"the output folder {path} is a file: choose a folder with --out")
    os.makedirs(path, exist_ok=True)
    key = os.path.realpath(path)
    held = HeldFolder(path)
    if key in _held_here:
        _held_here[key][1] += 1
    else:
        descriptor, held.took_over_from = lock(path)
        _held_here[key] = [descriptor, 1]
    try:
        check_contents(path, resume)
        held.removed = remove_temporaries(path)
        yield held
    finally:
        _held_here[key][1] -= 1
        if _held_here[key][1] == 0:
            unlock(path, _held_here.pop(key)[0])


def check_contents(path, resume):
    """Refuse a used folder without resume, and a folder with nothing to resume from with it."""
    found = [name for name in RUN_OUTPUTS if os.path.exists(os.path.join(path, name))]
    resumable = os.path.isfile(os.path.join(path, RESUME_FROM))
    if resume and resumable:
        return
    fresh = f"start a new run in a fresh folder, e.g. --out {free_sibling(path)}"
    if found and not resumable:
        raise RunFolderError(
            f"{path} holds a run ({', '.join(found)}) but no {RESUME_FROM}, the checkpoint a "
            f"run continues from, so it cannot be resumed (best.npz is the best epoch, not "
            f"the last); it is not overwritten either: {fresh}")
    if resume:
        raise RunFolderError(f"cannot resume: {path} holds no run (no {RESUME_FROM}); "
                             "train without --resume to start one")
    if found:
        raise RunFolderError(
            f"{path} already holds a run ({', '.join(found)}); it is not overwritten. "
            f"Continue that run with --resume, or {fresh}")


def free_sibling(path):
    """``runs/ahe`` -> the first of runs/ahe-2, runs/ahe-3, ... that does not exist."""
    base = re.sub(r"-\d+$", "", os.path.normpath(path))
    number = 2
    while os.path.exists(f"{base}-{number}"):
        number += 1
    return f"{base}-{number}"


def lock(folder):
    """Take ``folder/.lock`` -> (its open descriptor, the process id of a stale lock or None).

    Raises RunFolderBusy if a live process holds it.
    """
    lock_path = os.path.join(folder, LOCK_NAME)
    while True:
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = read_process_id(descriptor)
            os.close(descriptor)
            who = f"process {holder}" if holder else "another process"
            raise RunFolderBusy(f"{folder} is in use by another run ({who}): wait for it to "
                                f"finish, or train into another folder, e.g. --out "
                                f"{free_sibling(folder)}") from None
        # the holder before us unlinks the file on release: if it did so between our open
        # and our flock, we locked a file nobody else will ever see; open the new one
        if same_file(descriptor, lock_path):
            break
        os.close(descriptor)
    stale = read_process_id(descriptor)
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
    return descriptor, stale


def unlock(folder, descriptor):
    """Remove ``folder/.lock`` while still holding it, then let go."""
    os.remove(os.path.join(folder, LOCK_NAME))
    os.close(descriptor)


def read_process_id(descriptor):
    """The process id written in a lock file, or None if it holds none."""
    text = os.pread(descriptor, 64, 0).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


def same_file(descriptor, path):
    try:
        return os.path.samestat(os.fstat(descriptor), os.stat(path))
    except FileNotFoundError:
        return False
