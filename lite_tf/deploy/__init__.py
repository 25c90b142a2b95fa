"""Deployment: TFLite conversion (``convert``), LiteRT (``litert``), verified export
(``export``), phone samples (``samples``), latency benchmarks (``benchmark``), phones over adb
(``phone``) and the compression report (``report``). Importing it loads no TensorFlow."""
