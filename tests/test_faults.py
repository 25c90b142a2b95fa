"""Faults a run survives: Ctrl-C during training, a damaged backup, two trainings into one
workdir, a dangling runs/latest, a full disk while writing, SIGKILL during export. Each ends in
one line (exit 2, or 130 for Ctrl-C) and leaves the earlier good files as they were."""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import ROOT, one_error_line, run_command, snapshot
from lite_tf import files, rundir
from lite_tf.backend import tf
from lite_tf.errors import InputError
from lite_tf.training import callbacks


def train_command(workdir, digits_dir, epochs):
    return [sys.executable, "-m", "train", "--config", "quickstart", "--workdir", str(workdir),
            "--gin_bindings", "train.model = 'mobilenext_035'", "--gin_bindings",
            f"train.epochs = {epochs}", "--gin_bindings", "train.image_size = 32",
            "--gin_bindings", "train.warmup_epochs = 0", "--gin_bindings",
            f"train.data_dir = '{digits_dir}'", "--gin_bindings", "train.verbose = 0",
            "--gin_bindings", "train.saved_model = False"]


def start(command, cwd):
    return subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ, PYTHONPATH=ROOT))


def wait_for(condition, proc, seconds=300):
    deadline = time.time() + seconds
    while not condition():
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def epochs_done(workdir) -> int:
    return len(rundir.read_metrics(rundir.RunDir(str(workdir)))["history"])


EPOCHS = 4


@pytest.fixture(scope="module")
def interrupted(digits_dir, tmp_path_factory):
    """A quickstart run Ctrl-C'd once its first epoch is backed up: (workdir, its process, the
    command)."""
    workdir = tmp_path_factory.mktemp("interrupted") / "run"
    command = train_command(workdir, digits_dir, EPOCHS)
    proc = start(command, tmp_path_factory.getbasetemp())
    wait_for(lambda: epochs_done(workdir) >= 1, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    return workdir, subprocess.CompletedProcess(command, proc.returncode, "", err), command


# The interrupted run is a training of 25 s: its tests are slow (the default suite is full).
@pytest.mark.slow
def test_ctrl_c_stops_training_at_a_step_with_exit_130_and_one_line(interrupted):
    workdir, proc, _ = interrupted
    lines = proc.stderr.splitlines()
    said = [line for line in lines if line.startswith("python -m train: interrupted: ")]
    assert proc.returncode == 130 and len(said) == 1 and "Traceback" not in proc.stderr, lines[-20:]
    assert "stopped in epoch " in said[0] and f"resume {workdir} from its last backup" in said[0]
    assert os.path.isdir(workdir / "backup" / "chief")
    assert rundir.RunDir(str(workdir)).read_record()["status"] == "running"


@pytest.mark.slow  # resumes and trains the remaining epochs
def test_after_ctrl_c_the_same_command_resumes_and_finishes(interrupted, tmp_path):
    workdir, proc, command = interrupted
    copy = tmp_path / "run"
    shutil.copytree(workdir, copy)
    done = epochs_done(copy)
    resumed = subprocess.run([c.replace(str(workdir), str(copy)) for c in command], cwd=tmp_path,
                             capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=ROOT))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    history = rundir.read_metrics(rundir.RunDir(str(copy)))["history"]
    assert [h["epoch"] for h in history] == list(range(1, EPOCHS + 1)) and done < EPOCHS
    assert rundir.RunDir(str(copy)).finished()


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncated", "flipped byte"])
def test_a_damaged_backup_is_one_line_naming_the_file_and_nothing_is_written(
        interrupted, tmp_path, damage):
    workdir, _, command = interrupted
    copy = tmp_path / "run"
    shutil.copytree(workdir, copy)
    data = next((copy / "backup" / "chief").glob("ckpt-*.data-*"))
    content = data.read_bytes()
    if damage == "truncated":
        data.write_bytes(content[:len(content) // 2])
    else:
        data.write_bytes(content[:100] + bytes([content[100] ^ 0xFF]) + content[101:])
    before = snapshot(tmp_path)
    args = [c.replace(str(workdir), str(copy)) for c in command[3:]]
    proc = run_command("train", args, "python -m train", tmp_path)
    line = one_error_line(proc, "python -m train")
    assert f"the backup {data} is damaged" in line and f"delete {copy / 'backup'} to train" in line
    assert snapshot(tmp_path) == before


@pytest.mark.slow  # trains an epoch in-process
def test_a_full_disk_while_writing_the_backup_keeps_the_last_good_one(interrupted, tmp_path,
                                                                     monkeypatch):
    workdir, _, command = interrupted
    copy = tmp_path / "run"
    shutil.copytree(workdir, copy)
    kept = lambda: {p: b for p, b in snapshot(copy).items() if "tensorboard" not in p.parts}  # noqa: E731

    def full(manager, *args, **kwargs):
        (copy / "backup" / "chief" / "ckpt-9.data-00000-of-00001.tempstate").write_bytes(b"half")
        raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")

    before = kept()
    monkeypatch.setattr(tf.train.CheckpointManager, "save", full)
    args = [c.replace(str(workdir), str(copy)) for c in command[3:]]
    proc = run_command("train", args, "python -m train", tmp_path)
    assert one_error_line(proc, "python -m train") == (
        f"python -m train: error: cannot write the backup in {copy / 'backup'}: No space left on "
        f"device; a rerun resumes from the last good one (the one it resumed from)")
    after = kept()
    del after[copy / "backup" / "chief" / "ckpt-9.data-00000-of-00001.tempstate"]
    assert after == before


def test_a_full_disk_while_writing_the_best_weights_keeps_the_earlier_best(tmp_path, monkeypatch):
    from lite_tf.backend import keras

    net = keras.Sequential([keras.layers.Dense(2, input_shape=(3,), name="dense")])
    path = tmp_path / "best.weights.h5"
    best = callbacks.BestWeights(str(path), None)
    best.set_model(net)
    best.on_epoch_end(0, {"val_top1": 0.5})
    good = path.read_bytes()
    net.set_weights([w + 1 for w in net.get_weights()])

    def full(self, filepath, *args, **kwargs):
        open(filepath, "wb").write(b"half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(keras.Model, "save_weights", full)
    with pytest.raises(InputError, match=f"cannot write {path}: No space left on device; the "
                                         f"earlier best is kept"):
        best.on_epoch_end(1, {"val_top1": 0.6})
    assert path.read_bytes() == good and [p.name for p in tmp_path.iterdir()] == [path.name]


@pytest.mark.slow  # two trainings set up side by side
def test_a_second_training_into_a_workdir_in_use_refuses_in_one_line(digits_dir, tmp_path):
    workdir = tmp_path / "run"
    first = start(train_command(workdir, digits_dir, 200), tmp_path)
    try:
        wait_for(lambda: (workdir / ".lock").exists() and "pid" in (workdir / ".lock").read_text(),
                 first)
        args = train_command(workdir, digits_dir, 200)[3:]
        proc = run_command("train", args, "python -m train", tmp_path)
        line = one_error_line(proc, "python -m train")
        assert line == (f"python -m train: error: {workdir} is in use by another training (pid "
                        f"{first.pid}): wait for it to finish or choose another --workdir")
    finally:
        first.kill()  # SIGKILL: the system releases the lock
        first.wait()
    with rundir.RunDir(str(workdir)).locked():
        pass


def test_a_dangling_runs_latest_is_one_line(tmp_path):
    (tmp_path / "runs").mkdir()
    os.symlink("quickstart-gone", tmp_path / "runs" / "latest")
    before = snapshot(tmp_path)
    for name, prog in (("export", "python -m export"), ("report", "python -m export.report")):
        args = [] if name == "export" else ["runs/latest"]
        proc = run_command(name, args, prog, tmp_path)
        assert one_error_line(proc, prog) == (
            f"{prog}: error: runs/latest points at quickstart-gone, which no longer exists: pass "
            f"--workdir with a run directory, or train one")
    assert snapshot(tmp_path) == before


@pytest.mark.slow  # an export in-process (the write_atomic and best-weights cases stay)
def test_a_full_disk_while_writing_a_tflite_keeps_the_earlier_one(trained, tmp_path, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    model = run / "export" / f"{rundir.find_run(str(run))['model']}_float16.tflite"
    model.parent.mkdir(exist_ok=True)
    model.write_bytes(b"an earlier good export")
    before = snapshot(tmp_path)
    real = tempfile.NamedTemporaryFile

    class Full:
        """A temporary file on a disk that fills up halfway through the write."""

        def __init__(self, *args, **kwargs):
            self.file = real(*args, **kwargs)
            self.name = self.file.name

        def write(self, content):
            self.file.write(content[:len(content) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

    monkeypatch.setattr(files.tempfile, "NamedTemporaryFile", Full)
    args = ["--workdir", str(run), "--float16", "--eval-samples", "16", "--device-samples", "0"]
    proc = run_command("export", args, "python -m export", tmp_path)
    assert one_error_line(proc, "python -m export") == (
        f"python -m export: error: cannot write {model}: No space left on device")
    assert snapshot(tmp_path) == before  # the earlier export intact, no partial file left


def test_write_atomic_failure_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "report.json"
    path.write_text("old")
    monkeypatch.setattr(files.os, "replace", lambda *a: (_ for _ in ()).throw(
        OSError(errno.EROFS, os.strerror(errno.EROFS))))
    with pytest.raises(InputError, match="cannot write .*report.json: Read-only file system"):
        files.write_atomic(str(path), "new")
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"] and path.read_text() == "old"


def test_write_atomic_of_bad_content_leaves_nothing_behind(tmp_path):
    path = tmp_path / "plot.png"
    path.write_bytes(b"old")
    with pytest.raises(TypeError):  # a caller's bug, not the disk's: raised as it is
        files.write_atomic(str(path), None)
    assert [p.name for p in tmp_path.iterdir()] == ["plot.png"] and path.read_bytes() == b"old"


@pytest.mark.slow  # an export killed and rerun: about a minute
def test_sigkill_during_export_leaves_no_partial_file_and_a_rerun_completes(trained, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    shutil.rmtree(run / "export", ignore_errors=True)
    command = [sys.executable, "-m", "export", "--workdir", str(run), "--eval-samples", "64"]
    for _ in range(3):  # killed at different points of the work
        proc = start(command, tmp_path)
        time.sleep(4 + 3 * _)
        proc.kill()
        proc.wait()
        for f in (run / "export").glob("*") if (run / "export").exists() else []:
            if f.suffix == ".tflite":
                assert f.read_bytes()[4:8] == b"TFL3"  # a whole model or none
            if f.name.endswith(".json"):
                json.loads(f.read_text())
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=ROOT))
    assert done.returncode == 0, done.stderr[-3000:]
    assert not [f for f in (run / "export").iterdir() if f.name.endswith(files.PARTIAL)]


def test_check_backup_reads_an_intact_backup(trained):
    callbacks.check_backup(str(trained / "backup"))
