"""python -m train: an end-to-end run on the bundled digits and its workdir, and bad input."""

import json
import subprocess
import sys

import pytest

import train.__main__ as cli


def quick(tmp_path, *extra):
    return ["configs/quickstart.gin"], [
        "train.epochs = 2", "train.image_size = 32", f"train.data_dir = '{tmp_path}/tfds'",
        "train.verbose = 0", *extra]


def test_end_to_end_run_writes_the_workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(cli.CONFIG_DIRS[1] + "/..")
    configs, bindings = quick(tmp_path)
    final = cli.run(configs, bindings, str(tmp_path / "run"))
    run = tmp_path / "run"
    for name in ("model.keras", "saved_model/saved_model.pb", "config.gin", "command.json",
                 "checkpoints/best.weights.h5", "metrics.json", "tensorboard"):
        assert (run / name).exists(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert [h["epoch"] for h in metrics["history"]] == [1, 2]
    for key in ("loss", "top1", "top5", "val_loss", "val_top1", "val_top5", "images_per_sec"):
        assert key in metrics["history"][0]
    assert metrics["final"] == final
    assert final["epochs"] == 2 and final["model"] == "mobilenext_035"
    assert final["dataset"] == "sklearn_digits" and 0 <= final["val_top1"] <= 1
    assert "train.epochs = 2" in (run / "config.gin").read_text()

    # Rerunning a finished run restores its last checkpoint and trains no further.
    again = cli.run(configs, bindings, str(run))
    assert again["epochs"] == 2
    assert [h["epoch"] for h in json.loads((run / "metrics.json").read_text())["history"]] == [1, 2]


def test_default_workdir_and_latest_link(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    command = {"config": ["q.gin"], "gin_bindings": []}
    first = cli.choose_workdir(["q.gin"], command)
    assert (tmp_path / "runs" / "latest").resolve() == tmp_path.joinpath(first).resolve()
    (tmp_path / "runs" / "latest" / "command.json").write_text(json.dumps(command))
    assert cli.choose_workdir(["q.gin"], command) == first  # unfinished: resumed
    (tmp_path / "runs" / "latest" / "model.keras").write_text("")  # finished: a new run
    second = cli.choose_workdir(["q.gin"], command)
    assert second != first and (tmp_path / "runs" / "latest").resolve() == tmp_path.joinpath(second)


@pytest.mark.parametrize("args,message", [
    (["--config", "no_such_config"], "config 'no_such_config' not found"),
    (["--config", "quickstart", "--gin_bindings", "train.model = 'mobilenet_v5'"],
     "unknown model 'mobilenet_v5'"),
    (["--config", "quickstart", "--gin_bindings", "train.epochs = = 3"], "gin:"),
])
def test_bad_input_exits_2_with_one_line(args, message, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "train", *args, "--workdir", str(tmp_path / "w"),
                           "--gin_bindings", f"train.data_dir = '{tmp_path}/tfds'"],
                          capture_output=True, text=True, cwd=cli.CONFIG_DIRS[1] + "/..")
    assert proc.returncode == 2
    errors = [l for l in proc.stderr.splitlines() if l.startswith("python -m train: error:")]
    assert len(errors) == 1 and message in errors[0], proc.stderr[-2000:]
