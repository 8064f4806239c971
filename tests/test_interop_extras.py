"""Without an optional package, interop and export fail with a clear error naming the pip extra.

These tests need none of the extras: they hide one (a None entry in sys.modules makes
its import fail) in a fresh interpreter.
"""
import importlib
import os
import subprocess
import sys

import pytest

from minicnn.interop import MissingExtra
from minicnn.interop.converters import require

from .classifiers import NETWORKS, save_classifier
from .conftest import REPO_ROOT

HIDE_AND_RUN = """
import sys
sys.modules[{hidden!r}] = None
from minicnn.cli import main
sys.exit(main({arguments!r}))
"""


def test_require_names_the_extra():
    with pytest.raises(MissingExtra, match=r'ONNX export needs the no_such_package_here package, '
                                           r'which is not installed: pip install "minicnn\[onnx\]"'):
        require("no_such_package_here", "onnx", "ONNX export")


def test_import_minicnn_interop_needs_no_extra():
    script = ("import sys\nfor name in ('onnx', 'onnxruntime', 'torch'): sys.modules[name] = None\n"
              "import minicnn.interop\nprint(sorted(minicnn.interop.__all__))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    assert "to_torch" in result.stdout and "export_onnx" in result.stdout


@pytest.mark.parametrize("hidden, option, extra", [("onnx", "--onnx", "onnx"),
                                                   ("torch", "--torch", "torch")])
def test_export_without_the_package_is_exit_status_2(tmp_path, hidden, option, extra):
    checkpoint = save_classifier(NETWORKS["every_layer"](), tmp_path / "best.npz")
    arguments = ["export", "--checkpoint", str(checkpoint), option, str(tmp_path / "out")]
    result = subprocess.run([sys.executable, "-c", HIDE_AND_RUN.format(hidden=hidden,
                                                                       arguments=arguments)],
                            capture_output=True, text=True, cwd=REPO_ROOT)
    assert result.returncode == 2
    assert f'pip install "minicnn[{extra}]"' in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


EXTRAS = {"onnx": "onnx", "onnxruntime": "onnx", "torch": "torch", "kagglehub": "kaggle"}


@pytest.mark.parametrize("package", sorted(EXTRAS))
def test_ci_has_every_extra(package):
    """.ci/run sets MINICNN_REQUIRE_EXTRAS=1: there, a missing extra fails instead of skipping
    the tests that need it."""
    if not os.environ.get("MINICNN_REQUIRE_EXTRAS"):
        pytest.skip("MINICNN_REQUIRE_EXTRAS is not set (only CI requires every extra)")
    try:
        importlib.import_module(package)
    except ImportError as error:
        pytest.fail(f"{package} is missing ({error}): pip install \"minicnn[{EXTRAS[package]}]\"")
