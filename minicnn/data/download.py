"""download_ahe64: the AHE Image64 dataset from Kaggle in one call, with kagglehub.

    root = download_ahe64()          # a folder holding train/ (and test/)
    dataset = load_dataset(root)

kagglehub (``pip install "minicnn[kaggle]"``) downloads the public dataset
``ikobzev/architectural-heritage-elements-image64-dataset`` once into its
user cache, ``~/.cache/kagglehub`` (or ``$KAGGLEHUB_CACHE``), and answers
from there afterwards; the dataset is public, so no Kaggle account is needed.

When the download cannot happen (kagglehub missing, no network, Kaggle
unreachable) the error is a DataError that names the cause and says how to
download the dataset by hand and where to put it. One exception: kagglehub
asks Kaggle for the latest version even when a copy is cached, so offline it
fails although the data is on disk; a copy downloaded earlier is then used,
with a warning.
"""
import warnings
from pathlib import Path

from .errors import KAGGLE_DATASET, MANUAL_DOWNLOAD, data_error

# How deep under the download folder train/ may sit (archives often wrap it in a folder or two).
SEARCH_DEPTH = 3


def download_ahe64(force=False):
    """Download (or find in kagglehub's cache) AHE Image64; -> the Path of the folder holding train/.

    force: download again even if a complete copy is cached.
    Raises DataError, saying how to get the data by hand, when it cannot be fetched.
    """
    try:
        import kagglehub   # optional: only this function needs it
    except ImportError:
        raise data_error("downloading the dataset needs kagglehub, which is not installed "
                         '(pip install "minicnn[kaggle]").', MANUAL_DOWNLOAD) from None
    try:
        download = Path(kagglehub.dataset_download(KAGGLE_DATASET, force_download=force))
    except Exception as error:   # offline, DNS, proxy, HTTP or API errors: all mean "no download"
        earlier = earlier_download(kagglehub)
        if earlier is None or force:
            raise data_error(f"could not download {KAGGLE_DATASET} with kagglehub "
                             f"({type(error).__name__}: {error}).", MANUAL_DOWNLOAD) from None
        warnings.warn(f"could not reach Kaggle ({type(error).__name__}); using the copy "
                      f"downloaded earlier at {earlier}", stacklevel=2)
        return earlier
    root = find_train_parent(download)
    if root is None:
        raise data_error(f"kagglehub downloaded {KAGGLE_DATASET} to {download}, but there is no "
                         f"train/ folder in it (searched {SEARCH_DEPTH} levels deep).",
                         MANUAL_DOWNLOAD)
    return root


def find_train_parent(folder, depth=SEARCH_DEPTH):
    """The shallowest folder at or under ``folder`` (``depth`` levels) that holds train/, or None."""
    level = [Path(folder)]
    for _ in range(depth + 1):
        for candidate in sorted(level):
            if (candidate / "train").is_dir():
                return candidate
        level = [child for parent in level if parent.is_dir()
                 for child in parent.iterdir() if child.is_dir()]
    return None


def earlier_download(kagglehub):
    """The newest version of the dataset in kagglehub's cache that holds train/, or None.

    The layout is kagglehub's: <cache>/datasets/<owner>/<name>/versions/<number>/.
    """
    versions = Path(kagglehub.config.get_cache_folder()) / "datasets" / KAGGLE_DATASET / "versions"
    if not versions.is_dir():
        return None
    numbered = sorted((folder for folder in versions.iterdir() if folder.name.isdigit()),
                      key=lambda folder: int(folder.name), reverse=True)
    for version in numbered:
        root = find_train_parent(version)
        if root is not None:
            return root
    return None
