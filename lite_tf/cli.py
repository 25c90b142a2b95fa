"""The shared command wrapper: a parser whose errors are one line with exit code 2, the same
treatment for bad input found later (``InputError``), TensorFlow kept quiet unless ``--verbose``,
and the output helpers the commands share. Commands live in ``lite_tf.commands``."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

from absl import logging as absl_logging

from lite_tf import console
from lite_tf.errors import InputError


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors: ``prog: error: message`` and exit code 2, no usage dump."""

    def error(self, message):
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(2)


def print_error(prog: str, error: Exception) -> None:
    """``prog: error: <first line>`` on stderr (gin appends "In call to ..." lines to messages)."""
    print(f"{prog}: error: {str(error).splitlines()[0]}", file=sys.stderr)


def summary(rows: list[tuple[str, object]]) -> str:
    """Aligned ``key  value`` lines."""
    width = max(len(key) for key, _ in rows)
    return "\n".join(f"{key.ljust(width)}  {value}" for key, value in rows)


def progress(message: str) -> None:
    """A progress line on stderr (stdout stays the command's result)."""
    print(message, file=sys.stderr, flush=True)


def thread_counts(text: str) -> list[int]:
    """An argparse type: comma-separated thread counts, each at least 1."""
    try:
        values = [int(t) for t in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected thread counts like 1,2,4, got {text!r}") from None
    if min(values) < 1:
        raise argparse.ArgumentTypeError(f"thread counts must be at least 1, got {text!r}")
    return values


def at_least(minimum: int):
    """An argparse type: an integer of at least ``minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return value
    return parse


def positive(text: str) -> float:
    """An argparse type: a number above 0."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def add_verbose(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--verbose", action="store_true",
                        help="also show TensorFlow's start-up and log messages and its warnings")


def quiet(verbose: bool) -> None:
    """Keep TensorFlow's chatter (C++ log lines, absl and Python warnings) out of a command's
    output, unless ``verbose``. Call before TensorFlow is imported."""
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0" if verbose else "3"
    if verbose:
        os.environ[console.VERBOSE_ENV] = "1"
        return
    warnings.filterwarnings("ignore")
    absl_logging.set_verbosity(absl_logging.ERROR)


def describe(module) -> str:
    """A command's description: its module docstring after the synopsis line."""
    return (module.__doc__ or "").split("\n\n", 1)[-1].strip()


def make_parser(module, prog: str, parser: argparse.ArgumentParser | None = None):
    parser = parser or ArgumentParser(prog=prog, description=describe(module),
                                      formatter_class=argparse.RawDescriptionHelpFormatter)
    module.add_arguments(parser)
    add_verbose(parser)
    return parser


def execute(module, args, parser, prog: str) -> int:
    """Run a parsed command: TensorFlow loaded quietly first if it needs it, bad input as one line
    and exit code 2."""
    quiet(args.verbose)
    if getattr(module, "USES_TENSORFLOW", True):
        importlib.import_module("lite_tf.backend")
    try:
        return module.run(args, parser) or 0
    except InputError as e:
        print_error(prog, e)
        return 2


def run_command(module, argv: list[str] | None, prog: str) -> int:
    """``module`` (a command of ``lite_tf.commands``) as its own program ``prog``."""
    parser = make_parser(module, prog)
    return execute(module, parser.parse_args(argv), parser, prog)
