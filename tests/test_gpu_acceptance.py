"""benchmarks/gpu_acceptance.sh as far as a machine without a GPU can take it, with a fake PATH.

No nvidia-smi, or one that lists no GPU: exit status 3 and nothing installed. A fake
nvidia-smi that reports a GPU (and a fake nvcc): the script picks the CuPy wheel for
that CUDA and goes on to the install step, stubbed with ACCEPTANCE_INSTALL_COMMAND.
"""
import os
import shutil
import subprocess

import pytest

from .conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "benchmarks" / "gpu_acceptance.sh"
# what the script calls before it needs a GPU
TOOLS = ("bash", "timeout", "grep", "sed", "head", "tail", "mktemp", "mkdir", "cut", "cat", "env")

pytestmark = pytest.mark.skipif(shutil.which("bash") is None or shutil.which("timeout") is None,
                                reason="needs bash and coreutils' timeout")


def fake_path(folder, commands):
    """A bin folder with the real TOOLS and the fake ``commands`` {name: shell script body}."""
    folder.mkdir()
    for tool in TOOLS:
        os.symlink(shutil.which(tool), folder / tool)
    for name, body in commands.items():
        (folder / name).write_text("#!/bin/sh\n" + body)
        (folder / name).chmod(0o755)
    return str(folder)


def nvidia_smi(gpu_line, cuda_version):
    """A fake nvidia-smi: the CSV line for --query-gpu, else a header naming the CUDA version."""
    header = f"| NVIDIA-SMI 550.54.15   Driver Version: 550.54.15   CUDA Version: {cuda_version} |"
    return (f'case "$1" in --query-gpu=*) printf "%s" "{gpu_line}" ;; '
            f'*) echo "{header}" ;; esac\n')


def run(tmp_path, commands, **environment):
    bin_folder = fake_path(tmp_path / "bin", commands)
    env = {"PATH": bin_folder, "HOME": str(tmp_path), "ACCEPTANCE_LOGS": str(tmp_path / "logs"),
           "PYTHON": "python-not-needed", **environment}
    return subprocess.run([shutil.which("bash"), str(SCRIPT)], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_without_nvidia_smi_it_says_so_and_exits_3(tmp_path):
    result = run(tmp_path, {})
    assert result.returncode == 3, result.stdout + result.stderr
    assert "no GPU here (nvidia-smi not found)" in result.stdout


def test_an_nvidia_smi_that_lists_no_gpu_exits_3_too(tmp_path):
    result = run(tmp_path, {"nvidia-smi": nvidia_smi("", "12.4")})
    assert result.returncode == 3, result.stdout + result.stderr
    assert "nvidia-smi lists none" in result.stdout


@pytest.mark.parametrize("driver_cuda, package", [("12.4", "cupy-cuda12x>=14"),
                                                  ("13.0", "cupy-cuda13x")])
def test_with_a_gpu_it_goes_on_to_install_the_cupy_of_its_cuda(tmp_path, driver_cuda, package):
    record = tmp_path / "installed.txt"
    commands = {"nvidia-smi": nvidia_smi("NVIDIA H100 80GB HBM3, 550.54.15, 81559 MiB",
                                         driver_cuda),
                "nvcc": 'echo "Cuda compilation tools, release 12.4, V12.4.131"\n',
                "install-stub": f'echo "$@" > "{record}"; echo "no network here"; exit 7\n'}
    result = run(tmp_path, commands, ACCEPTANCE_INSTALL_COMMAND="install-stub")
    lines = result.stdout.splitlines()
    assert result.returncode == 1, result.stdout + result.stderr
    assert lines[0].startswith("CHECK gpu: PASS NVIDIA H100 80GB HBM3")
    assert f"driver CUDA {driver_cuda}, nvcc 12.4" in lines[0]
    assert lines[1].startswith(f"CHECK cupy-install: FAIL {package}: exit status 7")
    assert record.read_text().split() == [package]
    assert (tmp_path / "logs" / "cupy-install.log").read_text() == "no network here\n"


def test_nvcc_gives_the_cuda_version_when_the_driver_does_not(tmp_path):
    record = tmp_path / "installed.txt"
    commands = {"nvidia-smi": ('case "$1" in --query-gpu=*) echo "NVIDIA A100, 470.1, 40 GiB" ;; '
                               '*) echo "no version line" ;; esac\n'),
                "nvcc": 'echo "Cuda compilation tools, release 11.8, V11.8.89"\n',
                "install-stub": f'echo "$@" > "{record}"; exit 1\n'}
    result = run(tmp_path, commands, ACCEPTANCE_INSTALL_COMMAND="install-stub")
    assert result.returncode == 1, result.stdout + result.stderr
    assert record.read_text().split() == ["cupy-cuda11x"]
