"""python -m train --config NAME_OR_PATH [--gin_bindings 'train.epochs = 5' ...] [--workdir DIR]

Trains a zoo model as the gin config says. ``--config`` takes a path or a bare name looked up in
``configs/`` (``quickstart`` -> configs/quickstart.gin) and repeats (later files override earlier
ones); ``--gin_bindings`` apply last. The workdir defaults to ``runs/<config>-<timestamp>`` with
``runs/latest`` pointing at the newest run; rerunning the same command resumes that run if it did
not finish (multi-worker runs need the same explicit --workdir on every worker). Bad input (a
missing config, a gin error, an unknown model or dataset, an offline download, a too-small input,
an unwritable workdir, a NaN loss) is one line on stderr and exit code 2, and leaves existing files
alone. See lite_tf/trainer.py for every ``train.*`` binding.
"""

from __future__ import annotations

import datetime
import difflib
import inspect
import json
import logging as std_logging
import os
import re
import sys

from absl import app, flags, logging

from lite_tf import cli  # importing lite_tf selects tf_keras first
from lite_tf.errors import InputError

FLAGS = flags.DEFINE_multi_string("config", None, "Gin config: a path or a name in configs/ (repeatable).")
BINDINGS = flags.DEFINE_multi_string("gin_bindings", [], "Extra gin bindings, e.g. 'train.epochs = 5'.")
WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (default: runs/<config>-<timestamp>, "
                                               "or the unfinished runs/latest of the same command).")
INIT_FROM = flags.DEFINE_string("init_from", None, "A finished run to start from (a compression "
                                "stage): its config is the base, its weights the start; same as "
                                "binding train.init_from.")
# configs/ of the current directory (a clone), then of the source tree this package runs from.
CONFIG_DIRS = ("configs", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                       "configs"))


def resolve_config(name: str) -> str:
    candidates = [name] + [os.path.join(d, n) for d in CONFIG_DIRS for n in (name, f"{name}.gin")]
    for path in candidates:
        if os.path.isfile(path):
            return os.path.abspath(path)
    raise InputError(f"config {name!r} not found (neither a file nor in ./configs)")


def choose_workdir(configs: list[str], command: dict, runs: str = "runs") -> str:
    """The unfinished runs/latest of the same command, else a new runs/<config>-<timestamp>."""
    from lite_tf.runs import final_model

    latest = os.path.join(runs, "latest")
    if os.path.isdir(latest) and _same_command(latest, command) and not final_model(latest):
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


def _recorded(workdir: str) -> dict:
    """The command.json a run was started with ({} when it has none)."""
    try:
        with open(os.path.join(workdir, "command.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _same_command(workdir: str, command: dict) -> bool:
    """Whether the run in ``workdir`` was started by ``command`` (its resolved parent aside)."""
    recorded = _recorded(workdir)
    return bool(recorded) and {k: v for k, v in recorded.items() if k != "parent"} == command


def parent_run(init_from: str, command: dict):
    """The finished run a stage starts from. When ``init_from`` (typically runs/latest) is this
    same command's own unfinished stage, the command is being rerun to resume it: its parent is
    the one recorded in its command.json."""
    from lite_tf import runs

    try:
        return runs.find_run(init_from)
    except InputError:
        parent = _recorded(init_from).get("parent")
        if parent and _same_command(init_from, command):
            return runs.find_run(parent)
        raise


def gin_error(error: Exception) -> InputError:
    """One line for a gin parse error, with a suggestion for a misspelled train.* parameter."""
    lines = str(error).splitlines()
    line = next((l.strip() for l in lines if "Failed to parse" in l), lines[0] if lines else "")
    unknown = re.match(r"Configurable 'train' doesn't have a parameter named '(\w+)'", line)
    if unknown:
        from lite_tf import trainer

        line = line.rstrip(".")
        close = difflib.get_close_matches(unknown[1], inspect.signature(trainer.train).parameters)
        line += f" (did you mean {close[0]!r}?)" if close else ""
    return InputError(f"gin: {line}")


def parse(paths: list[str], bindings: list[str]) -> None:
    import gin

    from lite_tf import trainer  # noqa: F401  (registers train.*)

    gin.clear_config()
    # For "include 'imagenet.gin'". Absolute paths only: gin's package-resource reader fails with
    # a TypeError on a relative prefix such as "configs" when that name is a namespace package.
    for directory in {os.path.dirname(p) for p in paths} | {os.path.abspath(d) for d in CONFIG_DIRS}:
        gin.add_config_file_search_path(directory)
    # gin logs an ERROR line for every search path an include is not found in before the one it is.
    std_logging.disable(std_logging.ERROR)
    try:
        gin.parse_config_files_and_bindings(paths, bindings)
    except (ValueError, SyntaxError, KeyError) as e:
        raise gin_error(e) from None
    finally:
        std_logging.disable(std_logging.NOTSET)


def run(configs: list[str], bindings: list[str], workdir: str | None,
        init_from: str | None = None) -> dict:
    """Parse the configs and bindings and train. With ``init_from`` (or ``train.init_from`` bound),
    that run's config.gin is parsed first: a compression stage keeps the run's model, data and
    recipe and changes what its own config says."""
    from lite_tf import files, runs, trainer

    paths = [resolve_config(c) for c in configs]
    parse(paths, bindings)
    command = {"config": paths, "gin_bindings": bindings}
    if init_from is None:
        init_from = runs.query("train.init_from")
    else:
        command["init_from"] = init_from
    parent = None
    if init_from:
        parent = parent_run(init_from, command)
        parse([os.path.join(parent.workdir, "config.gin"), *paths],
              [*bindings, f"train.init_from = {parent.workdir!r}"])

    chosen = None

    def make_workdir() -> str:  # called by the trainer once the inputs have been checked
        nonlocal chosen
        path = os.path.abspath(workdir) if workdir else os.path.abspath("runs")
        try:
            path = path if workdir else choose_workdir(paths, command)
            os.makedirs(path, exist_ok=True)
            files.write_json(os.path.join(path, "command.json"),
                             {**command, "parent": parent.workdir} if parent else command)
        except OSError as e:
            raise InputError(f"cannot write to workdir {path}: {e.strerror}") from None
        print(f"workdir: {path}", flush=True)
        chosen = path
        return path

    final = trainer.train(make_workdir)
    rows = [("model", final["model"]), ("dataset", final["dataset"]), ("epochs", final["epochs"]),
            ("val top-1", f"{final['val_top1']:.4f}"), ("val top-5", f"{final['val_top5']:.4f}"),
            ("wall seconds", f"{final['wall_seconds']:.0f}"), ("workdir", chosen)]
    if "sparsity" in final:  # a pruning stage
        rows.insert(-1, ("sparsity", f"{final['sparsity']['prunable_sparsity']:.1%} of the pruned "
                                     f"layers' weights (per layer: metrics.json)"))
    if "channel_pruning" in final:
        c = final["channel_pruning"]
        rows.insert(-1, ("MACs", f"{c['macs_before']:,} -> {c['macs_after']:,} "
                                 f"({c['macs_after'] / c['macs_before']:.1%})"))
        rows.insert(-1, ("params", f"{c['params_before']:,} -> {c['params_after']:,}"))
    print(cli.summary(rows))
    return final


def main(argv):
    logging.set_verbosity(logging.WARNING)
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    if not FLAGS.value:
        print("python -m train: error: --config is required (e.g. --config quickstart)", file=sys.stderr)
        return 2
    try:
        run(FLAGS.value, BINDINGS.value, WORKDIR.value, INIT_FROM.value)
    except InputError as e:
        cli.print_error("python -m train", e)
        return 2
    return 0


if __name__ == "__main__":
    app.run(main)
