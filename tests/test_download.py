"""download_ahe64 and train_ahe.py --download: a clean error offline or without kagglehub.

"Offline" is made certain, on any machine, by sending kagglehub's requests to a
proxy that refuses connections (127.0.0.1, port 9) and by pointing its cache at
an empty folder.
"""
import os
import subprocess
import sys
import warnings

import pytest

from minicnn.cli.exits import BAD_DATA
from minicnn.data import DataError, download_ahe64
from minicnn.data.download import find_train_parent
from minicnn.data.errors import DATASET_URL, KAGGLE_DATASET

from .conftest import REPO_ROOT

REFUSING_PROXY = "http://127.0.0.1:9"


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """kagglehub with no network and an empty cache in tmp_path/kagglehub; -> the cache folder."""
    pytest.importorskip("kagglehub", reason='kagglehub is not installed (pip install "minicnn[kaggle]")')
    for variable in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(variable, REFUSING_PROXY)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "kagglehub"))
    return tmp_path / "kagglehub"


def assert_says_how_to_get_it_by_hand(message):
    assert DATASET_URL in message
    assert "DIR/train/<class>/<image>" in message and "--data DIR" in message
    assert "data/ahe64" in message


def test_offline_the_error_says_what_to_download_and_where_to_put_it(offline):
    with pytest.raises(DataError) as error:
        download_ahe64()
    message = str(error.value)
    assert message.startswith(f"could not download {KAGGLE_DATASET} with kagglehub (")
    assert_says_how_to_get_it_by_hand(message)


def test_without_kagglehub_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "kagglehub", None)   # import kagglehub now raises ImportError
    with pytest.raises(DataError) as error:
        download_ahe64()
    assert 'pip install "minicnn[kaggle]"' in str(error.value)
    assert_says_how_to_get_it_by_hand(str(error.value))


def test_offline_a_copy_downloaded_earlier_is_used_with_a_warning(offline):
    for version in ("1", "2", "10"):
        (offline / "datasets" / KAGGLE_DATASET / "versions" / version / "wrap" / "train").mkdir(
            parents=True)
    (offline / "datasets" / KAGGLE_DATASET / "versions" / "11").mkdir()   # incomplete: no train/
    with pytest.warns(UserWarning, match="using the copy downloaded earlier"):
        root = download_ahe64()
    assert root == offline / "datasets" / KAGGLE_DATASET / "versions" / "10" / "wrap"
    with pytest.raises(DataError, match="could not download"):
        download_ahe64(force=True)   # a forced download never falls back


def test_the_downloaded_folder_is_searched_for_train(monkeypatch, tmp_path):
    kagglehub = pytest.importorskip("kagglehub", reason="kagglehub is not installed")
    (tmp_path / "download" / "archive" / "ahe" / "train" / "apse").mkdir(parents=True)
    (tmp_path / "download" / "archive" / "ahe" / "test").mkdir()
    monkeypatch.setattr(kagglehub, "dataset_download",
                        lambda handle, force_download=False: str(tmp_path / "download"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert download_ahe64() == tmp_path / "download" / "archive" / "ahe"
    monkeypatch.setattr(kagglehub, "dataset_download",
                        lambda handle, force_download=False: str(tmp_path / "download" / "archive"
                                                                 / "ahe" / "train" / "apse"))
    with pytest.raises(DataError, match="there is no train/ folder in it"):
        download_ahe64()


def test_find_train_parent_prefers_the_shallowest(tmp_path):
    (tmp_path / "a" / "b" / "train").mkdir(parents=True)
    (tmp_path / "z" / "train").mkdir(parents=True)
    assert find_train_parent(tmp_path) == tmp_path / "z"
    assert find_train_parent(tmp_path / "a", depth=0) is None


def test_train_ahe_download_offline_is_a_data_error_without_a_traceback(offline, tmp_path):
    """Twice: the failed first attempt leaves no run behind that would refuse the second."""
    for _ in range(2):
        result = subprocess.run([sys.executable, str(REPO_ROOT / "examples" / "train_ahe.py"),
                                 "--download", "--out", str(tmp_path / "run")],
                                capture_output=True, text=True, cwd=tmp_path, env=dict(os.environ))
        assert result.returncode == BAD_DATA
        assert result.stderr.startswith("error: could not download")
        assert_says_how_to_get_it_by_hand(result.stderr)
        assert "Traceback" not in result.stderr


def test_train_ahe_takes_either_data_or_download(tmp_path):
    result = subprocess.run([sys.executable, str(REPO_ROOT / "examples" / "train_ahe.py"),
                             "--download", "--data", str(tmp_path)],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2
    assert "argument --data: not allowed with argument --download" in result.stderr
