"""Compression: the stages a run can be (``stage``: the registry; ``qat``, ``prune``,
``channel_prune``, ``low_rank``, ``distill``) and the TF-MOT quantization they build on (``quantize``)."""
