"""Output paths, checked before any work starts; and what a path that cannot be opened really is.

    check_outputs([("--onnx", "m.onnx"), ("--torch", "m.pt")], inputs=[("--checkpoint", "c.npz")])
    check_output_folder("--out", "runs/ahe", inputs=[("--data", "data/ahe64")])
    output_name("photos_" + "x" * 300 + ".jpg", ".png")   # -> a name the file system takes

A command that would overwrite its own input, write two outputs to one file,
or fail to write only after minutes of work is refused at once with an
OutputPathError naming the option, the path and the reason:

* an output is never the same file as an input or as another output. Two
  paths name one file when ``os.path.samefile`` says so (hard links,
  symbolic links, ``./`` and ``..`` aliases) or, for a file not written yet,
  when their resolved paths (``os.path.realpath``) are equal;
* an output file is not a folder, and an output folder is not a file;
* the folder it goes in can be made, and a file can be created there (a
  probe file, removed at once: ``os.access`` says yes to root in a
  read-only folder and knows nothing of mounts such as /proc);
* each name in the path fits the file system (NAME_MAX bytes, 255 on ext4,
  xfs, btrfs and tmpfs) and the whole path fits PATH_MAX.

An input's own name can be too long to become an output's name (predict
--explain names each PNG after its photo's path): ``output_name`` shortens
such a name, keeping its end and adding a hash of the whole, so different
long names stay different.
"""
import errno
import hashlib
import os

from .atomic import create_temporary

# Used where the file system cannot be asked (pathconf fails): the limit of every common one.
DEFAULT_NAME_MAX = 255
DEFAULT_PATH_MAX = 4096
HASH_CHARACTERS = 12


class OutputPathError(ValueError):
    """An output path would overwrite an input or another output, or cannot be written."""


def describe_unopenable(path):
    """Why ``path`` cannot be opened, in words ("does not exist", "is a symbolic link loop",
    ...); None when it can be stat'ed."""
    try:
        os.stat(path)
        return None
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "is a symbolic link loop (a link that leads back to itself)"
        if error.errno == errno.ENOENT and os.path.islink(path):
            return f"is a dangling symbolic link (to {os.readlink(path)}, which does not exist)"
        if error.errno == errno.ENOENT:
            return "does not exist"
        return f"cannot be opened: {error.strerror}"


def same_file(first, second):
    """True when the two paths name one file (module docstring)."""
    try:
        return os.path.samefile(first, second)
    except OSError:   # one of them does not exist (yet): compare where they lead
        return os.path.realpath(first) == os.path.realpath(second)


def file_identity(path):
    """(device, inode) of the file at ``path``, the same for every name of one file; None
    when there is no file there."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino


def inside(path, folder):
    """True when ``path`` is ``folder`` or lies under it, once both are resolved."""
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def name_max(folder):
    """The longest file name, in bytes, the file system holding ``folder`` takes."""
    try:
        return os.pathconf(existing_ancestor(folder), "PC_NAME_MAX")
    except (OSError, ValueError):
        return DEFAULT_NAME_MAX


def existing_ancestor(path):
    """``path`` itself if it exists, else its nearest existing parent folder."""
    path = os.path.abspath(path)
    while not os.path.lexists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    return path


def check_name_lengths(option, path):
    """OutputPathError if a name in ``path``, or the whole path, is longer than the system takes."""
    absolute = os.path.abspath(path)
    limit = name_max(os.path.dirname(absolute))
    for part in absolute.split(os.sep):
        if len(os.fsencode(part)) > limit:
            raise OutputPathError(f"{option} {path}: the name {part[:24]}...{part[-12:]} is "
                                  f"{len(os.fsencode(part))} bytes, longer than the file "
                                  f"system's limit of {limit}")
    if len(os.fsencode(absolute)) >= DEFAULT_PATH_MAX:
        raise OutputPathError(f"{option} {path}: the path is {len(os.fsencode(absolute))} bytes, "
                              f"longer than the system's limit of {DEFAULT_PATH_MAX - 1}")


def make_writable_folder(option, folder, shown):
    """Make ``folder`` (and its parents) and prove a file can be created in it, or raise
    OutputPathError naming ``option`` and ``shown`` (the path as given)."""
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise OutputPathError(f"{option} {shown}: {folder} is a file, not a folder")
    try:
        os.makedirs(folder, exist_ok=True)
        descriptor, probe = create_temporary(folder)
        os.close(descriptor)
        os.remove(probe)
    except OSError as error:
        verb = "write in" if os.path.isdir(folder) else "make the folder"
        raise OutputPathError(f"{option} {shown}: cannot {verb} {folder}: "
                              f"{error.strerror}") from None


def check_outputs(outputs, inputs=()):
    """Check output files before any work: ``outputs`` and ``inputs`` are (option, path) pairs
    (path None: not given). Makes each output's folder. Raises OutputPathError."""
    outputs = [(option, os.fspath(path)) for option, path in outputs if path is not None]
    inputs = [(option, os.fspath(path)) for option, path in inputs if path is not None]
    for index, (option, path) in enumerate(outputs):
        check_name_lengths(option, path)
        if os.path.isdir(path):
            raise OutputPathError(f"{option} {path} is a folder: name a file, e.g. "
                                  f"{os.path.join(path, 'model' + (os.path.splitext(path)[1] or '.out'))}")
        for other_option, other in inputs:
            if same_file(path, other):
                raise OutputPathError(f"{option} {path} is the same file as {other_option} "
                                      f"{other}: writing it would destroy the input")
        for other_option, other in outputs[:index]:
            if same_file(path, other):
                raise OutputPathError(f"{option} {path} and {other_option} {other} are the "
                                      "same file: one output would replace the other")
        make_writable_folder(option, os.path.dirname(os.path.abspath(path)), path)


def check_output_folder(option, folder, inputs=()):
    """Check an output folder before any work: not a file, not an input or inside an input folder
    (``inputs``: (option, path) pairs, path None: not given), made and writable. Raises
    OutputPathError."""
    folder = os.fspath(folder)
    check_name_lengths(option, folder)
    for input_option, path in inputs:
        if path is not None and (same_file(folder, path) or
                                 (os.path.isdir(path) and inside(folder, path))):
            raise OutputPathError(f"{option} {folder} is inside {input_option} {path}: "
                                  "outputs written there would mix with the input")
    make_writable_folder(option, folder, folder)


def output_name(stem, suffix, limit=DEFAULT_NAME_MAX, room=0):
    """``stem + suffix`` if it fits in ``limit`` bytes (less ``room`` for a later "-2"), else
    "<hash of stem>_<the end of stem><suffix>": the hash keeps different long stems apart,
    the end keeps the photo's own file name."""
    budget = limit - room - len(os.fsencode(suffix))
    if len(os.fsencode(stem)) <= budget:
        return stem + suffix
    digest = hashlib.sha1(os.fsencode(stem)).hexdigest()[:HASH_CHARACTERS]
    keep = budget - HASH_CHARACTERS - 1
    tail = os.fsencode(stem)[-keep:].decode("utf-8", "ignore")   # never half a character
    return f"{digest}_{tail}{suffix}"
