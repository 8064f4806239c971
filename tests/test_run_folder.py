"""Run folders: never overwritten unasked, held by one run at a time, tidied after a kill."""
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from minicnn.train.run_folder import RunFolderBusy, RunFolderError, free_sibling, hold_run_folder

from .conftest import REPO_ROOT
from .test_train import colour_dataset, make_trainer


def fit(out_dir, epochs=1, resume=False):
    data = colour_dataset()
    trainer = make_trainer(out_dir, epochs=epochs)
    return trainer.fit(data.subset(np.arange(36)), data.subset(np.arange(36, 48)), resume=resume)


def test_a_used_folder_is_refused_naming_resume_and_a_free_name(tmp_path):
    """Issue 15: running the README command again overwrote the previous run's best.npz."""
    fit(tmp_path / "run", epochs=2)
    (tmp_path / "run-2").mkdir()
    before = (tmp_path / "run" / "best.npz").read_bytes()
    with pytest.raises(RunFolderError, match=r"already holds a run \(last.npz, best.npz, "
                                             r"history.json\).*--resume.*--out .*run-3"):
        fit(tmp_path / "run", epochs=1)
    assert (tmp_path / "run" / "best.npz").read_bytes() == before
    assert not (tmp_path / "run" / ".lock").exists()
    history = fit(tmp_path / "run", epochs=3, resume=True)   # the way on it named
    assert [row["epoch"] for row in history] == [1, 2, 3]


def test_an_interrupted_first_epoch_leaves_a_folder_free_to_reuse(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("not a run")
    assert [row["epoch"] for row in fit(tmp_path / "run")] == [1]


def test_out_naming_a_file_is_refused(tmp_path):
    (tmp_path / "run").write_text("a file")
    with pytest.raises(RunFolderError, match=r"the output folder .*run is a file"):
        fit(tmp_path / "run")


def test_free_sibling_counts_up_from_the_base_name(tmp_path):
    assert free_sibling(tmp_path / "ahe") == f"{tmp_path / 'ahe'}-2"
    (tmp_path / "ahe-2").mkdir()
    assert free_sibling(tmp_path / "ahe") == free_sibling(tmp_path / "ahe-2") == f"{tmp_path / 'ahe'}-3"


BLOCKED_RUN = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {repo!r})
    from tests.test_train import colour_dataset, make_trainer
    import numpy as np

    def wait_in_epoch_1(trainer, epoch, batch):
        if epoch == 1 and batch == 1:
            open({started!r}, "w").close()
            while not os.path.exists({release!r}):
                time.sleep(0.05)

    data = colour_dataset()
    trainer = make_trainer({out!r}, callbacks=[wait_in_epoch_1], epochs=1)
    trainer.fit(data.subset(np.arange(36)), data.subset(np.arange(36, 48)))
""")


def test_a_second_run_on_a_busy_folder_is_refused_naming_the_first(tmp_path):
    """Issue 15: two runs on one --out mixed their checkpoints silently."""
    started, release = tmp_path / "started", tmp_path / "release"
    script = BLOCKED_RUN.format(repo=str(REPO_ROOT), out=str(tmp_path / "run"),
                                started=str(started), release=str(release))
    first = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not started.exists():
            assert first.poll() is None and time.monotonic() < deadline, first.stderr.read()
            time.sleep(0.05)
        with pytest.raises(RunFolderBusy, match=rf"in use by another run \(process {first.pid}\)"):
            fit(tmp_path / "run")
    finally:
        release.touch()
        _, errors = first.communicate(timeout=60)
    assert first.returncode == 0, errors
    assert not (tmp_path / "run" / ".lock").exists()


def dead_process_id():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_lock_left_by_a_killed_run_is_taken_over_and_stale_temporaries_removed(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    stale = dead_process_id()
    (folder / ".lock").write_text(f"{stale}\n")
    (folder / ".tmp-0123456789abcdef").write_bytes(b"half a checkpoint")
    with hold_run_folder(folder, resume=False) as held:
        assert held.took_over_from == stale
        assert held.removed == [".tmp-0123456789abcdef"]
        assert (folder / ".lock").read_text() == f"{os.getpid()}\n"
    assert sorted(os.listdir(folder)) == []


def test_the_holding_process_may_hold_its_folder_again(tmp_path):
    with hold_run_folder(tmp_path / "run", resume=False):
        with hold_run_folder(tmp_path / "run", resume=False):
            pass
        assert (tmp_path / "run" / ".lock").exists()   # the outer hold still holds it
    assert not (tmp_path / "run" / ".lock").exists()


def test_resume_needs_last_npz(tmp_path):
    with pytest.raises(RunFolderError, match=r"cannot resume: .* holds no run \(no last.npz\)"):
        fit(tmp_path / "run", resume=True)
