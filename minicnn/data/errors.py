"""The one error the data package raises, and the advice it carries.

Most data problems are not bugs: the dataset was never downloaded, or it sits
somewhere else, or a folder is empty. A plain ``FileNotFoundError`` deep in a
stack trace does not help a student fix that, so every such problem raises
``DataError`` with a message that says where the data was looked for and how
to get it. ``DataError`` is a ``ValueError``, so ``except ValueError`` still
catches it.
"""

KAGGLE_DATASET = "ikobzev/architectural-heritage-elements-image64-dataset"
DATASET_URL = f"https://www.kaggle.com/datasets/{KAGGLE_DATASET}"

MANUAL_DOWNLOAD = (
    'Download the Kaggle dataset "Architectural Heritage Elements Image64" '
    f"({DATASET_URL}) and unzip it so that DIR/train/<class>/<image> exists, then pass "
    "--data DIR (or the downloaded .zip itself), set the environment variable AHE64_DIR=DIR, "
    "or put it in data/ahe64 (the default, relative to the current folder)."
)

HOW_TO_GET_THE_DATASET = (
    f"{MANUAL_DOWNLOAD} Or let examples/train_ahe.py --download fetch it (needs kagglehub "
    "and network access)."
)


class DataError(ValueError):
    """The dataset is missing, empty, or not laid out as ``<split>/<class>/<image>``.

    ``problem`` is the one line that says what is wrong; ``advice``, when there is
    any, how to get the dataset (the command lines print it only where a dataset
    is looked for, not for a folder the user named to be scored).
    """

    def __init__(self, problem, advice=None):
        super().__init__(problem if advice is None else f"{problem}\n{advice}")
        self.problem, self.advice = problem, advice


def data_error(problem, advice=HOW_TO_GET_THE_DATASET):
    """A DataError whose message is ``problem`` followed by how to get the dataset."""
    return DataError(problem, advice)
