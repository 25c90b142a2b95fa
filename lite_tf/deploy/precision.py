"""Per-layer precision: the layers int8 hurts most kept in float, as few as bring int8 back.

TFLite's quantization debugger runs the int8 model beside its float self on calibration images and
measures each quantized tensor's error; ``ranked`` orders the layers by RMSE over their
quantization step (the TensorFlow guide's measure: above about 0.7, a layer loses more than
rounding does). ``keep_float`` then converts with the worst ``k`` layers left in float
(``QuantizationDebugOptions.denylisted_nodes``: TFLite dequantizes around them), choosing the
smallest ``k`` whose top-1 on held-out images is within ``within`` of the float model's: doubling
``k`` until it is, then bisecting.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from typing import Callable

import numpy as np

from lite_tf import console
from lite_tf.backend import tf
from lite_tf.deploy.convert import converter_for

_debugging = tf.lite.experimental


def _debugger(model, calibration: Callable, keep=(), io_type: str = "int8", skip_passes=(),
              per_tensor: bool = False):
    converter = converter_for(model, "int8", calibration, io_type, skip_passes=skip_passes,
                              per_tensor=per_tensor)
    # Float kernels allowed for the kept layers; every other op is int8 as before.
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    options = _debugging.QuantizationDebugOptions(denylisted_nodes=list(keep),
                                                  fully_quantize=io_type != "float32")
    with console.silenced():
        return _debugging.QuantizationDebugger(
            converter=converter, debug_dataset=lambda: ([np.asarray(x, np.float32)] for x in calibration()),
            debug_options=options)


def ranked(model, calibration: Callable, skip_passes=(), per_tensor: bool = False) -> list[dict]:
    """Every quantized layer output: ``tensor`` name, ``op`` and ``error`` (RMSE / scale over
    the calibration images), worst first."""
    # Float I/O here: the debugger feeds float images, and quantizes them only where it finds
    # the input's scale (MobileNetV3's debug model had none).
    debugger = _debugger(model, calibration, io_type="float32", skip_passes=skip_passes,
                         per_tensor=per_tensor)
    with console.silenced():
        debugger.run()
    dump = io.StringIO()
    debugger.layer_statistics_dump(dump)
    rows = []
    for row in csv.DictReader(io.StringIO(dump.getvalue())):
        scale = float(row["scale"])
        if scale > 0:
            rows.append({"tensor": row["tensor_name"], "op": row["op_name"],
                         "error": float(np.sqrt(float(row["mean_squared_error"]))) / scale})
    return sorted(rows, key=lambda r: -r["error"])


def convert_keeping(model, calibration: Callable, keep: list[str], io_type: str = "int8",
                    skip_passes=(), per_tensor: bool = False) -> bytes:
    """The int8 model with the layers producing the ``keep`` tensors in float."""
    debugger = _debugger(model, calibration, keep, io_type, skip_passes, per_tensor)
    with console.silenced():
        return debugger.get_nondebug_quantized_model()


@dataclasses.dataclass
class Choice:
    content: bytes
    kept: list[dict]  # the layers left in float, worst first
    tried: dict[int, float]  # layers kept -> top-1 on the held-out images
    float_top1: float


def keep_float(model, calibration: Callable, evaluate: Callable[[bytes], float], float_top1: float,
               within: float | None, io_type: str = "int8", limit: int | None = None,
               skip_passes=(), progress=print, per_tensor: bool = False) -> Choice:
    """The fewest worst layers kept in float (up to ``limit``, default all) for which
    ``evaluate(content)`` (top-1 on held-out images) is within ``within`` (a fraction: 0.003 is
    0.3 points) of ``float_top1``; the most allowed when none is. ``within`` None: exactly the
    ``limit`` worst. ``per_tensor``: int8 weights with one scale per tensor."""
    layers = ranked(model, calibration, skip_passes, per_tensor)[:limit]
    tried, made = {}, {}

    def score(k):
        if k not in tried:
            made[k] = convert_keeping(model, calibration, [r["tensor"] for r in layers[:k]], io_type,
                                      skip_passes, per_tensor)
            tried[k] = evaluate(made[k])
            progress(f"{k} layer(s) in float: top-1 {tried[k]:.4f} (float {float_top1:.4f})")
        return within is not None and tried[k] >= float_top1 - within

    if within is None:
        score(len(layers))
        return Choice(made[len(layers)], layers, tried, float_top1)
    low, high = 0, None  # low: the most layers known too few
    if score(0):
        high = 0
    k = 1
    while high is None and k <= len(layers):
        if score(k):
            high = k
        else:
            low, k = k, 2 * k
    if high is None:
        high = len(layers)
        score(high)
    else:
        while high - low > 1:  # the smallest k that is within, between low (not) and high (is)
            middle = (low + high) // 2
            if score(middle):
                high = middle
            else:
                low = middle
    return Choice(made[high], layers[:high], tried, float_top1)
