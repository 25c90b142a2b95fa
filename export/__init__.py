"""The export entry point: ``python -m export`` (see export/__main__.py)."""
