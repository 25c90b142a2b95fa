"""``python -m export.phone``: ``lite-tf phone`` (``lite_tf/commands/phone.py``)."""

import sys

from lite_tf import commands

if __name__ == "__main__":
    sys.exit(commands.run("phone", prog="python -m export.phone"))
