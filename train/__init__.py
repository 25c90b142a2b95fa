"""Training entry point (``python -m train --config NAME``): lands with the training issue (#3)."""
