"""Output shared by the command-line tools: the one-line error and the closing summary."""

from __future__ import annotations

import argparse
import sys


def print_error(prog: str, error: Exception) -> None:
    """``prog: error: <first line>`` on stderr (gin appends "In call to ..." lines to messages)."""
    print(f"{prog}: error: {str(error).splitlines()[0]}", file=sys.stderr)


def summary(rows: list[tuple[str, object]]) -> str:
    """Aligned ``key  value`` lines."""
    width = max(len(key) for key, _ in rows)
    return "\n".join(f"{key.ljust(width)}  {value}" for key, value in rows)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors: ``prog: error: message`` and exit code 2, no usage dump."""

    def error(self, message):
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(2)
