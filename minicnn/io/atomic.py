"""Atomic file writes: a file is either the old one or the complete new one, never half.

Write to a temporary file in the same folder, flush it to disk, then rename it
over the target. ``os.replace`` is atomic on one file system, so a crash or a
Ctrl-C mid-write leaves the previous file intact (and no temporary behind).
Checkpoints, history.json and the dataset cache all go through here.

A write that fails (a full disk, a folder where the file should be) raises an
OSError naming ``path``, not the temporary file, even where the writer wrapped
the OSError in an error of its own (``underlying_os_error``). Only a kill -9 (or a power cut) mid-write can leave a ``.tmp-*`` file behind;
``remove_temporaries`` cleans them up, and a training run calls it when it
takes its run folder (minicnn/train/run_folder.py).
"""
import os
import secrets

import numpy as np

TEMPORARY_PREFIX = ".tmp-"


def create_temporary(folder):
    """A new, empty file ``folder/.tmp-<random>``, open for writing -> (file descriptor, path).

    Created with mode 0666 less the umask, as ``open()`` would create it
    (``tempfile.mkstemp`` makes 0600 files, which would hide a student's run
    from the TA's account).
    """
    while True:
        path = os.path.join(folder, TEMPORARY_PREFIX + secrets.token_hex(8))
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), path
        except FileExistsError:  # 2**-64 per try: only ever a retry, never a loop
            continue


def atomic_write(path, write, mode="wb"):
    """Call ``write(file)`` on a temporary file next to ``path``, then rename it onto ``path``."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    try:
        handle, temporary = create_temporary(folder)
    except OSError as error:
        raise OSError(error.errno, error.strerror, path) from None
    try:
        with os.fdopen(handle, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        if os.path.exists(temporary):
            os.remove(temporary)
        cause = underlying_os_error(error) if isinstance(error, Exception) else None
        if cause is not None:
            # the temporary's name means nothing to the user: name the file asked for
            raise OSError(cause.errno, cause.strerror, path) from None
        raise


def underlying_os_error(error):
    """The OSError (with an errno) that ``error`` is, or was raised while handling, or None.

    A library's writer may fail on a full disk with an error of its own raised while the
    OSError was handled (torch.save: RuntimeError "unexpected pos ..."): the OSError is
    what the user needs to hear.
    """
    while error is not None:
        if isinstance(error, OSError) and error.errno is not None:
            return error
        error = error.__cause__ or error.__context__
    return None


def atomic_savez(path, arrays):
    """np.savez of ``arrays`` (a dict) to ``path``, atomically."""
    atomic_write(path, lambda file: np.savez(file, **arrays))


def atomic_write_text(path, text):
    """A UTF-8 text file, atomically."""
    atomic_write(path, lambda file: file.write(text), mode="w")


def remove_temporaries(folder):
    """Delete the ``.tmp-*`` files a killed writer left in ``folder`` -> their names, sorted.

    Only safe while no other process writes there (a run folder, while its
    run holds the lock).
    """
    with os.scandir(folder) as entries:
        stale = sorted(entry.name for entry in entries
                       if entry.name.startswith(TEMPORARY_PREFIX) and entry.is_file(follow_symlinks=False))
    for name in stale:
        os.remove(os.path.join(folder, name))
    return stale
