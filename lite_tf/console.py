"""What reaches the terminal: TensorFlow, the TFLite converter and LiteRT write start-up and
progress lines from C++ straight to stderr (file descriptor 2); unless ``LITE_TF_VERBOSE`` is set
(the commands' ``--verbose``), ``silenced()`` drops them."""

from __future__ import annotations

import contextlib
import os

VERBOSE_ENV = "LITE_TF_VERBOSE"


@contextlib.contextmanager
def silenced():
    """File descriptor 2 to /dev/null inside the block, unless verbose. Python exceptions raised
    inside still surface (after the block)."""
    if os.environ.get(VERBOSE_ENV):
        yield
        return
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
