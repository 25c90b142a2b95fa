"""``python -m export`` and ``export.benchmark``, ``export.phone``, ``export.report``: thin shells over ``lite_tf/commands/``."""
