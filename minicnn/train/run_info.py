"""run.json: what a training run was asked to do and where it ran, written when it starts.

    write_run_info("runs/ahe", command, configuration={...}, seed=0, backend="numba")

metrics.json, written when the run ends, adds what it achieved (scores, wall
time); run.json is there from the first epoch on, so a report of an unfinished
run can say how it was started. A resumed run keeps the run.json of its start.
"""
import datetime
import importlib.metadata
import json
import os
import platform
import sys

import numpy as np

from ..io.atomic import atomic_write_text

RUN_INFO = "run.json"


def machine_description(backend):
    """The machine and the versions a run's figures depend on (a dict, JSON-ready)."""
    return {"platform": platform.platform(), "processor": platform.processor(),
            "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "minicnn": installed_version("minicnn"), "backend": backend}


def installed_version(package):
    """The installed version of ``package`` (its metadata: minicnn's own root imports too much
    to be imported from here), or "not installed"."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def command_line(script):
    """How the running script was started, e.g. "python examples/train_ahe.py --quick"."""
    return " ".join([os.path.basename(sys.executable), script] + sys.argv[1:])


def write_run_info(folder, command, configuration, seed, backend):
    """Write ``folder``/run.json (atomically), unless a resumed run's is already there -> its path."""
    path = os.path.join(folder, RUN_INFO)
    if os.path.exists(path):
        return path
    info = {"command": command, "configuration": configuration, "seed": seed,
            "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": machine_description(backend)}
    atomic_write_text(path, json.dumps(info, indent=2, default=str))
    return path
