"""Export entry point (``python -m export --int8``): lands with the export issue (#4)."""
