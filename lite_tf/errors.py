"""The error type for bad user input (model names, configs, datasets, sizes, paths).

Command-line tools report an ``InputError`` in one line with exit code 2, and an ``Interrupted``
(Ctrl-C) in one line with exit code 130; anything else is a bug and keeps its traceback. It subclasses ValueError, so library callers can catch either.
"""


class InputError(ValueError):
    """Bad user input, explained in one line."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) stopped the work at a clean point; the message says how to resume."""
