"""``python -m export.report``: ``lite-tf report`` (``lite_tf/commands/report.py``)."""

import sys

from lite_tf import commands

if __name__ == "__main__":
    sys.exit(commands.run("report", prog="python -m export.report"))
