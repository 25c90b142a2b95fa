"""``python -m export.benchmark``: ``lite-tf bench`` (``lite_tf/commands/bench.py``)."""

import sys

from lite_tf import commands

if __name__ == "__main__":
    sys.exit(commands.run("bench", prog="python -m export.benchmark"))
