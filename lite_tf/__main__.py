"""``python -m lite_tf``: the same as the ``lite-tf`` command."""

import sys

from lite_tf.commands import main

sys.exit(main())
