"""The command-line tools: ``lite-tf COMMAND``, one module per command in this package.

A command module has a docstring (synopsis line, blank line, description), ``HELP`` (one line for
``lite-tf --help``), ``add_arguments(parser)`` and ``run(args, parser) -> exit code``, and sets
``USES_TENSORFLOW = False`` if it needs none. The shared wrapper (``lite_tf.cli``) gives every
command one-line errors with exit code 2 and ``--verbose``. Adding a command is adding a module
here; ``python -m train`` and ``python -m export`` (and ``export.benchmark``, ``export.phone``,
``export.report``) are thin shells over the same modules.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from lite_tf import __version__, cli

PROG = "lite-tf"


def commands() -> dict:
    """Every command module by name, in the order ``lite-tf --help`` lists them."""
    found = {m.name: importlib.import_module(f"{__name__}.{m.name}")
             for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")}
    return dict(sorted(found.items(), key=lambda item: (item[1].ORDER, item[0])))


def run(name: str, argv: list[str] | None = None, prog: str | None = None) -> int:
    """Command ``name`` as its own program (``prog``, e.g. 'python -m train')."""
    return cli.run_command(importlib.import_module(f"{__name__}.{name}"), argv,
                           prog or f"{PROG} {name}")


def main(argv: list[str] | None = None) -> int:
    """``lite-tf COMMAND [ARGS]``."""
    found = commands()
    parser = cli.ArgumentParser(
        prog=PROG, description="lite_tf: paper-exact lightweight CNNs, trained, compressed, "
                               "exported to int8 TFLite and benchmarked on phones.",
        epilog=f"'{PROG} COMMAND --help' explains a command.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                parser_class=cli.ArgumentParser)
    parsers = {}
    for name, module in found.items():
        parsers[name] = cli.make_parser(module, f"{PROG} {name}", sub.add_parser(
            name, help=module.HELP, description=cli.describe(module),
            formatter_class=argparse.RawDescriptionHelpFormatter))
    args = parser.parse_args(argv)
    return cli.execute(found[args.command], args, parsers[args.command], f"{PROG} {args.command}")


if __name__ == "__main__":
    sys.exit(main())
