"""lite-tf train --config NAME_OR_PATH [--config MORE ...] [--gin_bindings 'train.epochs = 5' ...] [--workdir DIR] [--init_from RUN]

Trains a zoo model as the gin configs say (python -m train is the same command). --config takes
a path or a name in configs/ (quickstart -> configs/quickstart.gin) and repeats (later files win);
--gin_bindings apply last. The run directory defaults to runs/<config>-<timestamp>, with
runs/latest linking to the newest; rerunning the same command resumes that run if it did not
finish (multi-worker runs need the same explicit --workdir on every worker). --init_from starts a
compression stage from a finished run: its config is the base, its weights the start. Every
train.* setting is listed in docs/training.md (lite_tf/training/settings.py). Bad input (a missing
config, a gin error, an unknown model or dataset, an offline download, a too-small input, an
unwritable workdir, a NaN loss) is one line on stderr and exit code 2 and leaves existing files
alone.
"""

from __future__ import annotations

from lite_tf import cli

HELP = "train a zoo model, or a compression stage of a finished run, as gin configs say"
ORDER = 0


def add_arguments(parser) -> None:
    cli.add_config(parser, "train.epochs = 5",
                   "run directory (default: runs/<config>-<timestamp>, or the unfinished "
                   "runs/latest of the same command)")
    parser.add_argument("--init_from", "--init-from", metavar="RUN",
                        help="a finished run to start from (a compression stage): its config is "
                             "the base, its weights the start; same as binding train.init_from")


def run(args, parser) -> int:
    from lite_tf.training.launch import launch  # TensorFlow: after --help and the log level

    done = launch(args.config, args.gin_bindings, args.workdir, args.init_from,
                  progress=lambda message: print(message, flush=True))
    final = done.final
    before = final.get("before_training")
    print(cli.summary([
        ("model", final["model"]), ("dataset", final["dataset"]), ("epochs", final["epochs"]),
        ("val top-1", f"{final['val_top1']:.4f}"), ("val top-5", f"{final['val_top5']:.4f}"),
        *([("before training", f"top-1 {before['val_top1']:.4f}")] if before else []),
        ("wall seconds", f"{final['wall_seconds']:.0f}"), *done.stage.summary(final),
        ("workdir", done.run.path)]))
    return 0
