"""``python -m lite_tf.weights``: ``lite-tf weights`` (``lite_tf.commands.weights``)."""

import sys

from lite_tf import commands

sys.exit(commands.run("weights", prog="python -m lite_tf.weights"))
