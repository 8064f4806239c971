"""Where the image files come from: a folder tree, or the Kaggle .zip read in place.

The loader does not care whether an image is a file on disk or a member of a
zip archive. A source gives it the same three things either way:

    source.class_names   sorted class-folder names (class index = position)
    source.files         every candidate image as a SourceFile, class by class
    source.read(file)    that file's bytes

Accepted layouts (``split`` is "train" or "test"):

    <root>/<split>/<class>/<image>    the unzipped Kaggle download
    <split folder>/<class>/<image>    a split folder passed directly; recognised
                                      because its subfolders hold files
    <download>.zip                    the Kaggle archive; the class folders may sit
                                      under any top-level folders inside it

Names starting with "." (``.DS_Store``, ``.ipynb_checkpoints``) and macOS's
``__MACOSX`` folders are not data and are skipped silently. Every other file in
a class folder, or in a folder inside it (searched recursively, as predict
searches folders; a symbolic link to a folder is not followed, and is listed
as skipped), is a candidate image: if it does not decode, the loader warns
and skips it, so a stray ``notes.txt`` is reported rather than hidden. Entries
that are not files at all (a dangling symbolic link, a symbolic link loop, a
FIFO) are listed in ``source.skipped`` with the reason, and reported the same
way. A class folder that cannot be read (permission denied) is a DataError:
scoring the others alone would report a figure for a dataset the user does
not have. A class folder whose name is not valid UTF-8 is an error: its name is the
class's name in every report and checkpoint, so it has to be renamed first.
"""
import errno
import os
import re
import stat
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .dataset import Skipped
from .errors import DataError, data_error

# Folder names that mean "a split", so a zip with only test/ is not mistaken
# for a zip whose single class is called "test".
KNOWN_SPLIT_NAMES = ("train", "test", "val", "valid", "validation")

# Bit 11 of a zip member's flags says "this name is UTF-8". Without it, zipfile
# decodes the name as cp437 (the old DOS code page), which turns "é" into "Ã©".
ZIP_UTF8_FLAG = 0x800


@dataclass(frozen=True)
class SourceFile:
    """One candidate image. ``stamp`` changes whenever the content can have changed:
    for a file, its modification time, status-change time (both in nanoseconds) and
    inode number (``file_stamp``); for a zip member, its CRC-32."""

    class_name: str
    name: str        # relative to the split folder, "/"-separated: "apse/x.jpg"
    size: int        # bytes
    stamp: str


def file_stamp(status):
    """"<mtime ns> <ctime ns> <inode>" of an os.stat_result: what the cache key holds per file.

    The modification time alone can lie: ``cp -p``, ``rsync -a`` and ``tar x`` copy it
    onto new content, and any program can set it back (os.utime). The status-change
    time cannot be set back by any program (the kernel sets it to now on every write,
    utime or rename), and a file replaced by another (rsync's and most editors' write
    to a new file then rename) has a new inode. So a file whose pixels changed has a
    new stamp, while nothing but a stat per file is read to check it (reading and hashing
    every file's bytes would cost a full read of the dataset on every load).
    """
    return f"{status.st_mtime_ns} {status.st_ctime_ns} {status.st_ino}"


def is_hidden(name):
    """True for names that are never data: dot-files and macOS zip metadata."""
    return name.startswith(".") or name == "__MACOSX"


def sorted_listing(files_by_class, where):
    """({class: [SourceFile]}, where) -> (sorted class names, files class by class, sorted by name).

    Raises DataError if there are no classes or a class folder holds no files,
    because a class without images cannot be learned and shifts every label after it.
    """
    if not files_by_class:
        raise data_error(f"no class folders in {where}: expected {where}/<class>/<image>.")
    empty = sorted(name for name, files in files_by_class.items() if not files)
    if empty:
        raise data_error(f"empty class folder: {', '.join(f'{where}/{name}' for name in empty)} "
                         "holds no image files.")
    class_names = sorted(files_by_class)
    files = [file for name in class_names
             for file in sorted(files_by_class[name], key=lambda file: file.name)]
    return class_names, files


def readable_name(*parts):
    """Parts joined into a short file-name-safe string, e.g. ("ahe64", "train") -> "ahe64-train"."""
    return re.sub(r"[^A-Za-z0-9_]+", "-", "-".join(parts)).strip("-") or "dataset"


class ImageSource:
    """Common interface; use as ``with open_image_source(path, split) as source:``."""

    description = ""        # where the images are, for messages and ImageDataset.source
    short_name = ""         # a file-name-safe name, used to name the cache file
    container_stamp = ""    # changes when a zip archive changes; "" for folders
    class_names = ()
    files = ()
    skipped = ()            # "apse/x.jpg (a FIFO)" for each entry that is not a readable file

    def read(self, file):
        raise NotImplementedError

    def close(self):
        """Release open handles (the zip archive); nothing to do for folders."""

    def __enter__(self):
        return self

    def __exit__(self, *exception):
        self.close()


class FolderSource(ImageSource):
    """Images stored as ``split_dir/<class>/<image>`` files."""

    def __init__(self, split_dir):
        self.split_dir = split_dir.resolve()
        self.description = str(self.split_dir)
        self.short_name = readable_name(self.split_dir.parent.name, self.split_dir.name)
        files_by_class, self.skipped = {}, []
        for class_dir in visible_subfolders(self.split_dir):
            require_utf8_name(class_dir)
            files_by_class[class_dir.name] = []
            self._list_folder(class_dir, class_dir.name, class_dir.name,
                              files_by_class[class_dir.name])
        self.class_names, self.files = sorted_listing(files_by_class, self.split_dir)

    def _list_folder(self, folder, class_name, relative, files):
        """Add the candidate images under ``folder`` (``relative`` to the split folder) to
        ``files``, recursively; entries that are not files go to ``self.skipped``."""
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as error:
            raise DataError(f"cannot read the folder {folder}: {error.strerror}") from None
        for entry in entries:
            if is_hidden(entry.name):
                continue
            kind, name = entry_kind(entry), f"{relative}/{entry.name}"
            if kind == FOLDER and entry.is_symlink():
                self.skipped.append(Skipped(name, "a symbolic link to a folder, not followed"))
            elif kind == FOLDER:
                self._list_folder(entry.path, class_name, name, files)
            elif kind == FILE:
                status = entry.stat()
                files.append(SourceFile(class_name, name, status.st_size, file_stamp(status)))
            else:
                self.skipped.append(Skipped(name, kind))

    def read(self, file):
        return (self.split_dir / file.name).read_bytes()


class ZipSource(ImageSource):
    """Images stored as members of a zip archive, read without extracting it."""

    def __init__(self, zip_path, split):
        zip_path = zip_path.resolve()
        self.archive = zipfile.ZipFile(zip_path)
        try:
            self._list_members(zip_path, split)
        except BaseException:
            self.archive.close()
            raise
        status = zip_path.stat()
        self.container_stamp = f"zip size {status.st_size} stamp {file_stamp(status)}"

    def _list_members(self, zip_path, split):
        files, folders = {}, set()   # path parts -> ZipInfo; path parts of folder entries
        for info in self.archive.infolist():
            parts = PurePosixPath(member_name(info)).parts
            if not parts or any(is_hidden(part) for part in parts):
                continue
            if info.is_dir():
                folders.add(parts)
            else:
                files[parts] = info
        prefix = choose_split_folder(list(files), split, zip_path)
        where = f"{zip_path}:{'/'.join(prefix)}" if prefix else str(zip_path)
        files_by_class = {parts[-1]: [] for parts in folders
                          if len(parts) == len(prefix) + 1 and parts[:-1] == prefix}
        self.members = {}   # SourceFile.name -> ZipInfo
        for parts, info in files.items():
            if parts[:-2] == prefix:
                class_name, name = parts[-2], f"{parts[-2]}/{parts[-1]}"
                files_by_class.setdefault(class_name, []).append(
                    SourceFile(class_name, name, info.file_size, str(info.CRC)))
                self.members[name] = info
        self.class_names, self.files = sorted_listing(files_by_class, where)
        self.description = where
        self.short_name = readable_name(zip_path.stem, *prefix[-1:])

    def read(self, file):
        return self.archive.read(self.members[file.name])

    def close(self):
        self.archive.close()


def member_name(info):
    """A zip member's name, repairing UTF-8 names stored without the UTF-8 flag."""
    if info.flag_bits & ZIP_UTF8_FLAG:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("utf-8")
    except UnicodeError:   # really cp437 (or something else): keep zipfile's reading
        return info.filename


def choose_split_folder(paths, split, zip_path):
    """The folder (a tuple of path parts) inside a zip that holds the class folders.

    paths: the path parts of every file in the zip. A file at
    ``.../<split>/<class>/<image>`` names a candidate folder ``(..., <split>)``;
    if the zip has no ``<split>`` level, any ``.../<class>/<image>`` does. The
    candidate holding the most files wins, so a stray README elsewhere in the
    archive cannot pull the loader away from the images.
    """
    candidates = [parts[:-2] for parts in paths if len(parts) >= 3 and parts[-3] == split]
    if not candidates:
        other_splits = split_names(paths)
        if other_splits:
            raise data_error(f"{zip_path} has no {split!r} folder (it has: "
                             f"{', '.join(other_splits)}).")
        candidates = [parts[:-2] for parts in paths if len(parts) >= 2]
    if not candidates:
        raise data_error(f"{zip_path} holds no images in class folders: expected "
                         f"<{split}>/<class>/<image> or <class>/<image> inside it.")
    files_per_folder = Counter(candidates)
    return min(files_per_folder, key=lambda folder: (-files_per_folder[folder], len(folder), folder))


FILE, FOLDER = "file", "folder"


def entry_kind(entry):
    """FILE or FOLDER (following symbolic links), or why the entry is neither, e.g. "a FIFO"."""
    try:
        mode = entry.stat().st_mode
    except FileNotFoundError:
        return "a dangling symbolic link" if entry.is_symlink() else "vanished while listed"
    except OSError as error:   # ELOOP for a symbolic link loop, EACCES, ...
        if error.errno == errno.ELOOP:
            return "a symbolic link loop"
        return f"unreadable: {error.strerror}"
    if stat.S_ISREG(mode):
        return FILE
    if stat.S_ISDIR(mode):
        return FOLDER
    return {stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a device",
            stat.S_IFBLK: "a device"}.get(stat.S_IFMT(mode), "not a regular file")


def require_utf8_name(folder):
    """Raise DataError for a class folder whose name is not valid UTF-8 (os.fsdecode kept the
    bad bytes as surrogates, which no report, JSON file or plot can print)."""
    try:
        folder.name.encode("utf-8")
    except UnicodeEncodeError:
        raise DataError(f"the class folder name {os.fsencode(folder.name)!r} in {folder.parent} "
                        "is not valid UTF-8: rename the folder (e.g. convmv -f latin1 -t utf-8 "
                        "-r --notest <folder>)") from None


def split_names(paths):
    """The known split names (train, test, ...) with class folders of files below them, sorted.
    paths: the path parts of files, e.g. ("ahe64", "test", "apse", "x.jpg")."""
    return sorted({parts[-3] for parts in paths if len(parts) >= 3 and parts[-3] in KNOWN_SPLIT_NAMES})


def visible_subfolders(folder):
    """The subfolders of ``folder`` that are not hidden, sorted by name."""
    with os.scandir(folder) as entries:
        return sorted((Path(entry.path) for entry in entries
                       if entry_kind(entry) == FOLDER and not is_hidden(entry.name)),
                      key=lambda path: path.name)


def holds_files(folder):
    """True if ``folder`` directly contains a file that is not hidden."""
    with os.scandir(folder) as entries:
        return any(entry_kind(entry) == FILE and not is_hidden(entry.name) for entry in entries)


def find_split_folder(root, split):
    """The folder whose subfolders are the classes: ``root/split`` if it exists, else ``root``
    itself when its subfolders hold files. Raises DataError for an empty root or a root
    without class folders."""
    if (root / split).is_dir():
        return root / split
    subfolders = visible_subfolders(root)
    if any(holds_files(folder) for folder in subfolders):
        return root
    with os.scandir(root) as entries:
        if not any(not is_hidden(entry.name) for entry in entries):
            raise data_error(f"the dataset folder {root} is empty.")
    found = ", ".join(folder.name for folder in subfolders) or "none"
    raise data_error(f"no {split!r} folder and no class folders of images in {root} "
                     f"(subfolders: {found}). Expected {root}/{split}/<class>/<image> "
                     f"or {root}/<class>/<image>.")


def list_splits(path):
    """The split folders (train, test, ...) of a dataset root or .zip, sorted; [] for a split folder.

    A folder counts as a split when its own subfolders hold files, so a class
    folder that happens to be called "test" (holding images itself) does not.
    """
    path = Path(path).expanduser()
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            parts = [PurePosixPath(member_name(info)).parts for info in archive.infolist()
                     if not info.is_dir()]
        return split_names(parts)
    if not path.is_dir():
        return []
    return [name for name in sorted(KNOWN_SPLIT_NAMES) if (path / name).is_dir()
            and any(holds_files(folder) for folder in visible_subfolders(path / name))]


def open_image_source(path, split):
    """A FolderSource or ZipSource for ``path`` (a dataset root, a split folder or a .zip).

    Raises DataError, naming the path, if it is missing, empty or not a dataset.
    """
    path = Path(path).expanduser().absolute()
    if not path.exists():
        raise data_error(f"no dataset at {path}: it does not exist.")
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise data_error(f"{path} is a file but not a .zip archive.")
        return ZipSource(path, split)
    return FolderSource(find_split_folder(path, split))
