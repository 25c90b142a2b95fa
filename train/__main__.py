"""python -m train --config NAME_OR_PATH [--gin_bindings 'train.epochs = 5' ...] [--workdir DIR]

Trains a zoo model as the gin config says. ``--config`` takes a path or a bare name looked up in
``configs/`` (``quickstart`` -> configs/quickstart.gin) and repeats (later files override earlier
ones); ``--gin_bindings`` apply last. The workdir defaults to ``runs/<config>-<timestamp>`` with
``runs/latest`` pointing at the newest run; rerunning the same command resumes that run if it did
not finish. See lite_tf/trainer.py for every ``train.*`` binding.
"""

from __future__ import annotations

import datetime
import json
import os
import sys

from absl import app, flags, logging

import lite_tf  # noqa: F401  (selects tf_keras first)

FLAGS = flags.DEFINE_multi_string("config", None, "Gin config: a path or a name in configs/ (repeatable).")
BINDINGS = flags.DEFINE_multi_string("gin_bindings", [], "Extra gin bindings, e.g. 'train.epochs = 5'.")
WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (default: runs/<config>-<timestamp>, "
                                               "or the unfinished runs/latest of the same command).")
# configs/ of the current directory (a clone), then of the source tree this package runs from.
CONFIG_DIRS = ("configs", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                       "configs"))


class UsageError(Exception):
    """Bad input: reported in one line, exit code 2."""


def resolve_config(name: str) -> str:
    candidates = [name] + [os.path.join(d, n) for d in CONFIG_DIRS for n in (name, f"{name}.gin")]
    for path in candidates:
        if os.path.isfile(path):
            return os.path.abspath(path)
    raise UsageError(f"config {name!r} not found (neither a file nor in ./configs)")


def choose_workdir(configs: list[str], command: dict, runs: str = "runs") -> str:
    """The unfinished runs/latest of the same command, else a new runs/<config>-<timestamp>."""
    latest = os.path.join(runs, "latest")
    if os.path.isdir(latest):
        try:
            with open(os.path.join(latest, "command.json")) as f:
                same = json.load(f) == command
        except (OSError, ValueError):
            same = False
        if same and not os.path.exists(os.path.join(latest, "model.keras")):
            return os.path.realpath(latest)
    stem = os.path.splitext(os.path.basename(configs[-1]))[0]
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    workdir, n = os.path.join(runs, f"{stem}-{stamp}"), 1
    while os.path.exists(workdir):  # two runs started within one second
        n += 1
        workdir = os.path.join(runs, f"{stem}-{stamp}-{n}")
    os.makedirs(workdir)
    tmp = f"{latest}.tmp"
    if os.path.lexists(tmp):
        os.remove(tmp)
    os.symlink(os.path.basename(workdir), tmp)
    os.replace(tmp, latest)
    return os.path.realpath(workdir)


def run(configs: list[str], bindings: list[str], workdir: str | None) -> dict:
    import gin

    from lite_tf import trainer

    paths = [resolve_config(c) for c in configs]
    gin.clear_config()
    try:
        gin.parse_config_files_and_bindings(paths, bindings)
    except (ValueError, SyntaxError, KeyError) as e:
        raise UsageError(f"gin: {str(e).splitlines()[0]}") from None
    command = {"config": paths, "gin_bindings": bindings}
    workdir = os.path.abspath(workdir) if workdir else choose_workdir(paths, command)
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "command.json"), "w") as f:
        json.dump(command, f)
    print(f"workdir: {workdir}")
    final = trainer.train(workdir)
    rows = [("model", final["model"]), ("dataset", final["dataset"]), ("epochs", final["epochs"]),
            ("val top-1", f"{final['val_top1']:.4f}"), ("val top-5", f"{final['val_top5']:.4f}"),
            ("wall seconds", f"{final['wall_seconds']:.0f}"), ("workdir", workdir)]
    width = max(len(k) for k, _ in rows)
    print("\n".join(f"{k.ljust(width)}  {v}" for k, v in rows))
    return final


def main(argv):
    logging.set_verbosity(logging.WARNING)
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    if not FLAGS.value:
        print("python -m train: error: --config is required (e.g. --config quickstart)", file=sys.stderr)
        return 2
    try:
        run(FLAGS.value, BINDINGS.value, WORKDIR.value)
    except (UsageError, ValueError) as e:
        print(f"python -m train: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    app.run(main)
