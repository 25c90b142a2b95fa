"""Training: typed settings (``settings``), gin configs (``config``), the run launcher
(``launch``), and the trainer's parts: distribution, optimizer and schedule (``optim``),
checkpointing callbacks (``callbacks``) and the fit loop (``trainer``)."""
