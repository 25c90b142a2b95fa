"""``python -m train``: the training command (``lite_tf/commands/train.py``)."""
