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


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors: ``prog: error: message`` and exit code 2, no usage dump."""

    def error(self, message):
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(2)
