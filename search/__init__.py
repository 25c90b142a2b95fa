"""``python -m search``: the architecture search command (``lite_tf/commands/search.py``)."""
