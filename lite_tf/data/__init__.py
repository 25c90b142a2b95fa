"""Data: datasets (``sources``: TFDS, image folders, the bundled digits), input pipelines
(``pipeline``) and input scaling (``preprocessing``, which loads no TensorFlow)."""
