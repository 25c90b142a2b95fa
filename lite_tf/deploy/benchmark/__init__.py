"""Latency benchmarks: the measuring loop (``measure``, in a fresh process per model), host runs
(``host``), the ``lite_tf.benchmark/2`` results documents host and phone share (``results``) and
their table and plot (``render``)."""
