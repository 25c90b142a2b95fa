"""``python -m train``: ``lite-tf train`` (``lite_tf/commands/train.py``)."""

import sys

from lite_tf import commands

if __name__ == "__main__":
    sys.exit(commands.run("train", prog="python -m train"))
