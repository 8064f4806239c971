"""The one error the data package raises, and the advice it carries.

Most data problems are not bugs: the dataset was never downloaded, or it sits
somewhere else, or a folder is empty. A plain ``FileNotFoundError`` deep in a
stack trace does not help a student fix that, so every such problem raises
``DataError`` with a message that says where the data was looked for and how
to get it. ``DataError`` is a ``ValueError``, so ``except ValueError`` still
catches it.
"""

DATASET_URL = "https://www.kaggle.com/datasets/ikobzev/architectural-heritage-elements-image64-dataset"

HOW_TO_GET_THE_DATASET = (
    'Download the Kaggle dataset "Architectural Heritage Elements Image64" '
    f"({DATASET_URL}), then pass --data DIR (the folder that holds train/, "
    "or the downloaded .zip) or set the environment variable AHE64_DIR=DIR."
)


class DataError(ValueError):
    """The dataset is missing, empty, or not laid out as ``<split>/<class>/<image>``."""


def data_error(problem):
    """A DataError whose message is ``problem`` followed by how to get the dataset."""
    return DataError(f"{problem}\n{HOW_TO_GET_THE_DATASET}")
