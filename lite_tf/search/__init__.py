"""Hardware-aware architecture search: the space (space.py), the latency table, the strategy and
the performance estimators."""
