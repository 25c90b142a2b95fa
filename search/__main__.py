"""``python -m search``: ``lite-tf search`` (``lite_tf/commands/search.py``)."""

import sys

from lite_tf import commands

if __name__ == "__main__":
    sys.exit(commands.run("search", prog="python -m search"))
