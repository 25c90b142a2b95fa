"""python -m train: an end-to-end run on the bundled digits and its workdir, and bad input."""

import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

import conftest
from conftest import ROOT, run_command, run_module, snapshot
from lite_tf import rundir
from lite_tf.backend import keras, tf
from lite_tf.training.launch import launch


def quick(digits_dir, *extra):
    return ["configs/quickstart.gin"], [
        "train.model = 'mobilenext_035'", "train.epochs = 2", "train.image_size = 32", f"train.data_dir = '{digits_dir}'",
        "train.verbose = 0", "train.saved_model = False", *extra]


def test_end_to_end_run_writes_the_workdir(trained, tmp_path, monkeypatch):
    """The shared fixture run (the quickstart config, 6 epochs of MobileNeXt-0.35) as launched
    (with train.saved_model = False: tests/test_fashion_mnist.py sees a run write its SavedModel)."""
    run = trained
    for name in ("model.keras", "config.gin", "run.json", "checkpoints/best.weights.h5",
                 "metrics.json", "tensorboard"):
        assert (run / name).exists(), name
    assert not (run / "saved_model").exists()
    metrics = json.loads((run / "metrics.json").read_text())
    assert [h["epoch"] for h in metrics["history"]] == [1, 2, 3, 4, 5, 6]
    for key in ("loss", "top1", "top5", "val_loss", "val_top1", "val_top5", "images_per_sec"):
        assert key in metrics["history"][0]
    final = metrics["final"]
    assert final["epochs"] == 6 and final["model"] == "mobilenext_035"
    assert final["dataset"] == "sklearn_digits" and 0 <= final["val_top1"] <= 1
    assert final["val_top1"] == metrics["history"][-1]["val_top1"]
    assert "train.epochs = 6" in (run / "config.gin").read_text()
    record = json.loads((run / "run.json").read_text())
    assert record["schema"] == "lite_tf.run/1" and record["status"] == "finished"
    command = record["command"]
    assert command["config"] == [os.path.join(ROOT, "configs", "quickstart.gin")]
    assert "train.epochs = 6" in command["gin_bindings"] and record["parent"] is None
    assert record["settings"]["epochs"] == 6 and record["settings"]["preprocessing"] == "tf"
    assert record["settings"]["augment"] == {"scale": [0.8, 1.0], "ratio": [0.75, 4 / 3],
                                             "flip": False, "crop": "resized",
                                             "pad_fraction": 0.125, "erasing": 0.0,
                                             "mixup": 0.0}

    # Rerunning a finished run restores its last checkpoint and trains no further.
    copy = shutil.copytree(run, tmp_path / "run", symlinks=True)
    monkeypatch.chdir(ROOT)
    again = launch(command["config"], command["gin_bindings"], str(copy)).final
    assert again == final
    assert [h["epoch"] for h in json.loads((copy / "metrics.json").read_text())["history"]] == \
        [1, 2, 3, 4, 5, 6]


def test_default_workdir_and_latest_link(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    command = {"config": ["q.gin"], "gin_bindings": []}
    first = rundir.choose(["q.gin"], command).path
    assert (tmp_path / "runs" / "latest").resolve() == tmp_path.joinpath(first).resolve()
    rundir.RunDir(first).start(command, None)
    assert rundir.choose(["q.gin"], command).path == first  # unfinished: resumed
    rundir.RunDir(first).finish({}, None, "")
    (tmp_path / "runs" / "latest" / "model.keras").write_text("")  # finished: a new run
    second = rundir.choose(["q.gin"], command).path
    assert second != first and (tmp_path / "runs" / "latest").resolve() == tmp_path.joinpath(second)


def run_cli(args, cwd=ROOT, env=None):
    return run_module("train", args, cwd, env)


def one_error_line(proc):
    return conftest.one_error_line(proc, "python -m train")


BAD_INPUT = {
    "missing config": (["--config", "no_such_config"], "config 'no_such_config' not found"),
    "gin syntax error": (["--gin_bindings", "train.epochs = = 3"], "gin: Unable to parse"),
    "unknown binding": (["--gin_bindings", "train.epoch = 3"],
                        "named 'epoch' (did you mean 'epochs'?)"),
    "unknown model": (["--gin_bindings", "train.model = 'mobilenet_v5'"],
                      "unknown model 'mobilenet_v5'; closest: mobilenet_v1"),
    "unknown dataset": (["--gin_bindings", "train.dataset = 'cifar_11'"],
                        "unknown dataset 'cifar_11': not a TFDS dataset (closest: cifar10"),
    "dataset offline": (["--gin_bindings", "train.dataset = 'mnist'"],
                        "'mnist' is not prepared and cannot be downloaded (offline): put a "
                        "prepared copy in data_dir"),
    "input too small": (["--gin_bindings", "train.image_size = 24"],
                        "input size 24x24 is too small for mobilenext_100: it needs at least 32x32"),
}


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_is_one_line_exit_2_and_touches_nothing(case, tmp_path, digits_dir):
    args, message = BAD_INPUT[case]
    if args[0] != "--config":
        args = ["--config", "quickstart", *args]
    earlier = tmp_path / "runs" / "earlier"  # an earlier run, and runs/latest pointing at it
    earlier.mkdir(parents=True)
    (earlier / "metrics.json").write_text('{"history": []}')
    (tmp_path / "runs" / "latest").symlink_to("earlier")
    before = snapshot(tmp_path)
    # Half the cases pass the earlier run's workdir again, half use the default runs/<new>.
    workdir = ["--workdir", str(earlier)] if list(BAD_INPUT).index(case) % 2 else []
    proc = run_command("train", [*args, *workdir, "--gin_bindings", f"train.data_dir = '{digits_dir}'"],
                       "python -m train", tmp_path,
                       env={"HTTPS_PROXY": "http://127.0.0.1:9"})  # offline on any machine
    assert message in one_error_line(proc)
    assert snapshot(tmp_path) == before
    assert sorted(os.listdir(tmp_path / "runs")) == ["earlier", "latest"]
    assert os.readlink(tmp_path / "runs" / "latest") == "earlier"


def test_unwritable_workdir(tmp_path, digits_dir):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    proc = run_cli(["--config", "quickstart", "--workdir", str(blocker / "run"),
                    "--gin_bindings", f"train.data_dir = '{digits_dir}'"])
    assert f"cannot write to workdir {blocker / 'run'}: Not a directory" in one_error_line(proc)
    assert blocker.read_text() == "not a directory"


@pytest.mark.slow  # a subprocess trains into a NaN, then the run resumes
def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, digits_dir, monkeypatch):
    workdir = tmp_path / "run"
    # Epoch 1 trains normally; then step decay multiplies the learning rate by 1e12.
    explode = ["train.warmup_epochs = 0", "train.schedule = 'step'", "train.decay_rate = 1e12"]
    configs, bindings = quick(digits_dir, *explode)
    args = ["--config", "quickstart", "--workdir", str(workdir)]
    proc = run_cli(args + [a for b in bindings for a in ("--gin_bindings", b)])
    assert "the loss became NaN in epoch 2" in one_error_line(proc)
    assert "last checkpoint before it (epoch 1, end)" in one_error_line(proc)
    metrics = json.loads((workdir / "metrics.json").read_text())
    assert [h["epoch"] for h in metrics["history"]] == [1] and "final" not in metrics
    assert not (workdir / "model.keras").exists()
    assert (workdir / "checkpoints" / "best.weights.h5").exists()
    # The kept checkpoint is the good one: without the explosion, training resumes at epoch 2.
    monkeypatch.chdir(ROOT)
    final = launch(configs, quick(digits_dir)[1], str(workdir)).final
    history = json.loads((workdir / "metrics.json").read_text())["history"]
    assert final["epochs"] == 2 and [h["epoch"] for h in history] == [1, 2]
    assert math.isfinite(history[1]["loss"]) and math.isfinite(history[1]["val_loss"])


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow  # a subprocess trains 3 epochs, then another resumes it
def test_sigkill_mid_epoch_then_rerun_resumes(tmp_path, digits_dir):
    workdir = tmp_path / "run"
    _, bindings = quick(digits_dir, "train.epochs = 3", "train.checkpoint_every_steps = 4")
    args = ["--config", "quickstart", "--workdir", str(workdir)]
    args += [a for b in bindings for a in ("--gin_bindings", b)]
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "train", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    backup = workdir / "backup" / "chief"

    def saved_position():
        try:
            reader = tf.train.load_checkpoint(str(backup))
            return tuple(int(reader.get_tensor(f"ckpt_saved_{k}/.ATTRIBUTES/VARIABLE_VALUE"))
                         for k in ("epoch", "batch"))
        except (ValueError, tf.errors.OpError):
            return None

    deadline = time.time() + 240
    while proc.poll() is None and time.time() < deadline:  # kill once epoch 2 is under way
        position = saved_position()
        if position and position[0] == 1 and position[1] >= 3:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    epoch, batch = saved_position()
    assert epoch == 1 and 0 < batch < 21  # backed up mid-way through epoch 2 (of 22 steps)
    metrics = json.loads((workdir / "metrics.json").read_text())
    assert [h["epoch"] for h in metrics["history"]] == [1] and not (workdir / "model.keras").exists()

    rerun = run_cli(args, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    metrics = json.loads((workdir / "metrics.json").read_text())
    assert [h["epoch"] for h in metrics["history"]] == [1, 2, 3] and metrics["final"]["epochs"] == 3
    seconds = [h["wall_seconds"] for h in metrics["history"]]
    assert seconds == sorted(seconds) and (workdir / "model.keras").exists()


@pytest.mark.slow
def test_two_workers_on_loopback_train_the_same_model(tmp_path, digits_dir):
    workdir = tmp_path / "run"
    _, bindings = quick(digits_dir, "train.epochs = 1", "train.strategy = 'multi_worker_mirrored'")
    args = ["--config", "quickstart", "--workdir", str(workdir)]
    args += [a for b in bindings for a in ("--gin_bindings", b)]
    cluster = {"worker": [f"localhost:{p}" for p in free_ports(2)]}
    # Different seeds: only synchronized training (initial weights broadcast from worker 0,
    # gradients all-reduced) can end with identical weights.
    workers = [subprocess.Popen(
        [sys.executable, "-m", "train", *args, "--gin_bindings", f"train.seed = {i}"],
        cwd=tmp_path, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
        env=dict(os.environ, PYTHONPATH=ROOT, TF_CONFIG=json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": i}})))
        for i in range(2)]
    outputs = [w.communicate(timeout=600)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], "\n".join(o[-3000:] for o in outputs)

    chief = keras.models.load_model(workdir / "model.keras", compile=False)
    other = keras.models.load_model(workdir / "worker1" / "model.keras", compile=False)
    assert len(chief.weights) == len(other.weights) > 100
    for a, b in zip(chief.weights, other.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.name)
    finals = [json.loads((d / "metrics.json").read_text())["final"] for d in (workdir, workdir / "worker1")]
    assert finals[0]["val_top1"] == finals[1]["val_top1"]


@pytest.mark.slow
def test_mixed_precision_computes_in_bfloat16_with_float32_outputs(tmp_path, digits_dir, monkeypatch):
    monkeypatch.chdir(ROOT)
    configs, bindings = quick(digits_dir, "train.epochs = 1", "train.precision = 'mixed_bfloat16'")
    final = launch(configs, bindings, str(tmp_path / "run")).final
    assert math.isfinite(final["val_loss"])
    assert keras.mixed_precision.global_policy().name == "float32"  # restored afterwards
    model = keras.models.load_model(tmp_path / "run" / "model.keras", compile=False)
    assert model.get_layer("stem").compute_dtype == "bfloat16"
    assert model.get_layer("stem").kernel.dtype == tf.float32
    assert model.get_layer("predictions").compute_dtype == "float32"
    assert model.output.dtype == tf.float32
