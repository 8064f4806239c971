"""find_data_dir: decide which dataset folder (or .zip) a command should use.

The dataset is not shipped with the code, so every command needs to be told
where it is. Three ways, first one given wins:

    1. the command-line value, ``--data DIR``
    2. the environment variable ``AHE64_DIR``
    3. the default ``data/ahe64``, relative to the current folder

The first one *given* is the one used: if ``--data`` names a folder that does
not exist, that is an error, not a reason to quietly train on whatever
``AHE64_DIR`` points at.
"""
import os
from pathlib import Path

from .errors import data_error

DATA_DIR_VARIABLE = "AHE64_DIR"
DEFAULT_DATA_DIR = Path("data") / "ahe64"


def find_data_dir(cli_value=None):
    """The dataset path from ``--data``, else ``$AHE64_DIR``, else ``data/ahe64``.

    Raises DataError, naming the place tried and where the choice came from,
    if that path does not exist.
    """
    if cli_value:
        path, origin = Path(cli_value), "--data"
    elif os.environ.get(DATA_DIR_VARIABLE):
        path, origin = Path(os.environ[DATA_DIR_VARIABLE]), f"${DATA_DIR_VARIABLE}"
    else:
        path, origin = DEFAULT_DATA_DIR, "the default (no --data given and no $AHE64_DIR set)"
    path = path.expanduser()
    if not path.exists():
        raise data_error(f"dataset not found: looked in {path.absolute()}, from {origin}.")
    return path
