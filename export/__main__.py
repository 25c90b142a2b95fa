"""``python -m export``: ``lite-tf export`` (``lite_tf/commands/export.py``)."""

import sys

from lite_tf import commands

if __name__ == "__main__":
    sys.exit(commands.run("export", prog="python -m export"))
