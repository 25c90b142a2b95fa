"""The shared command wrapper: a parser whose errors are one line with exit code 2, the same
treatment for bad input found later (``InputError``), Ctrl-C as one line with exit code 130, TensorFlow kept quiet unless ``--verbose``,
and the output helpers the commands share. Commands live in ``lite_tf.commands``."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from typing import Callable

from absl import logging as absl_logging

from lite_tf import checks, console
from lite_tf.errors import InputError


INTERRUPTED = 130  # the exit code of a command stopped by Ctrl-C, as shells report it (128 + SIGINT)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors: ``prog: error: message`` and exit code 2, no usage dump."""

    def error(self, message):
        print(f"{self.prog}: error: {printable(message)}", file=sys.stderr)
        sys.exit(2)


def printable(text: str) -> str:
    """``text`` on one line: characters that would break or hide it (newlines, other control
    characters) escaped, as ``repr`` writes them."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def print_error(prog: str, error: Exception) -> None:
    """``prog: error: <first line>`` on stderr (gin appends "In call to ..." lines to messages)."""
    print(f"{prog}: error: {printable((str(error).splitlines() or [''])[0])}", file=sys.stderr)


def summary(rows: list[tuple[str, object]]) -> str:
    """Aligned ``key  value`` lines."""
    width = max(len(key) for key, _ in rows)
    return "\n".join(f"{key.ljust(width)}  {value}" for key, value in rows)


def progress(message: str) -> None:
    """A progress line on stderr (stdout stays the command's result)."""
    print(message, file=sys.stderr, flush=True)


def flag(kind: Callable[[str], object], check: Callable | None = None, *, many: bool = False):
    """An argparse ``type`` from one declaration: the text parsed by ``kind`` (``int``, ``float``,
    ``str``, ...), then ``check`` (from ``lite_tf.checks``, as the settings use) applied to the
    value, or to each of a comma-separated list (``many``: '1,2,4' -> [1, 2, 4]). A bad value is
    argparse's one-line error: ``argument --runs: must be >= 1, got '0'``."""
    what = checks.NAMES.get(getattr(kind, "__name__", ""), "a value")

    def parse(text: str):
        try:
            values = [kind(t.strip()) for t in text.split(",")] if many else [kind(text)]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {what}{' list like 1,2,4' if many else ''}, got {text!r}") from None
        for value in values:
            wrong = checks.problem(getattr(kind, "__name__", "Any"), check, value)
            if wrong:
                raise argparse.ArgumentTypeError(f"must be {wrong}, got {text!r}")
        return values if many else values[0]

    parse.__name__ = what  # argparse names the type in some messages
    parse.check = check  # the declaration, for tests and help
    return parse


def add_timing(parser: argparse.ArgumentParser, threads: list[int], what: str = "") -> None:
    """``--threads``, ``--runs`` and ``--warmup``: how a latency is measured, alike everywhere."""
    parser.add_argument("--threads", type=flag(int, checks.at_least(1), many=True), default=threads,
                        metavar="1,2,4", help=f"comma-separated {what}thread counts (default: "
                                              f"{','.join(map(str, threads))})")
    parser.add_argument("--runs", type=flag(int, checks.at_least(1)), default=50, metavar="N",
                        help="timed invocations per model and thread count, at least 1 s of them "
                             "(default: 50)")
    parser.add_argument("--warmup", type=flag(int, checks.at_least(0)), default=5, metavar="N",
                        help="untimed invocations before timing, at least 0.5 s of them (default: 5)")


def add_config(parser: argparse.ArgumentParser, example: str, workdir: str) -> None:
    """--config (repeatable), --gin_bindings (repeatable, e.g. ``example``) and --workdir
    (``workdir`` says what it is), as the gin-driven commands take them."""
    parser.add_argument("--config", action="append", required=True, metavar="NAME_OR_PATH",
                        help="gin config: a path or a name in configs/ (repeatable)")
    parser.add_argument("--gin_bindings", "--gin-bindings", action="append", default=[],
                        metavar="BINDING", help=f"extra gin binding, e.g. '{example}' "
                                                "(repeatable; applied last)")
    parser.add_argument("--workdir", metavar="DIR", help=workdir)


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
    except KeyboardInterrupt as e:  # Ctrl-C; an Interrupted says where the work stopped
        print(f"{prog}: interrupted{': ' + printable(str(e)) if str(e) else ''}", file=sys.stderr)
        return INTERRUPTED


def run_command(module, argv: list[str] | None, prog: str) -> int:
    """``module`` (a command of ``lite_tf.commands``) as its own program ``prog``."""
    parser = make_parser(module, prog)
    return execute(module, parser.parse_args(argv), parser, prog)
