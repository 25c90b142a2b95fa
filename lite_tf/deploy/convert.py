"""TFLite conversion: the int8 (and int16x8, float16, dynamic-range, float32) converter call."""

from __future__ import annotations

import os
from typing import Callable, Iterable

import numpy as np

from lite_tf import console
from lite_tf.backend import tf  # first: it selects tf_keras before TensorFlow is imported
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
from lite_tf.deploy import passes

MODES = ("int8", "int16x8", "float16", "dynamic", "float32")
CALIBRATED = ("int8", "int16x8")  # the modes that need representative data


def converter_for(model, mode: str = "int8", representative_data: Callable[[], Iterable] | None = None,
                  io_type: str = "int8", sparse: bool = False, skip_passes=(), per_tensor: bool = False,
                  add_passes=()):
    """The TFLiteConverter ``convert`` runs (for the quantization debugger, which runs it itself)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if per_tensor and mode != "int8":
        raise ValueError(f"per-tensor weight scales apply to int8 only, not {mode}")
    model, _ = passes.apply(model, mode, skip_passes, add_passes)
    spec = tf.TensorSpec((1, *model.input_shape[1:]), tf.float32)
    # The converter saves what it is given as a SavedModel and reads it back first. Given the
    # Keras model, it would serialize every layer (tracing each one's call: 47 s -> 13 s for
    # GhostNet without); given the function with its variables, it writes a checkpoint of every
    # variable (QAT: each quantizer's ranges too). The function frozen to constants saves in no
    # time: QAT MobileNeXt-0.35 14.6 -> 4.4 s, the same ops, tensors, signature and outputs.
    forward = tf.function(lambda x: model(x, training=False), input_signature=[spec])
    frozen = convert_variables_to_constants_v2(forward.get_concrete_function())
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen], tf.Module())
    if mode != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if sparse:
        converter.optimizations = [*converter.optimizations, tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if mode in CALIBRATED and representative_data is not None:
        converter.representative_dataset = lambda: ([np.asarray(x, np.float32)]
                                                    for x in representative_data())
    if mode == "int16x8":
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    if mode == "int8":
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        dtype = {"int8": tf.int8, "uint8": tf.uint8, "float32": tf.float32}[io_type]
        converter.inference_input_type = dtype
        converter.inference_output_type = dtype
        # One scale per weight tensor, not per output channel: for accelerators without per-channel
        # int8 (NNAPI drivers before 1.2, Android 10). The converter's only switch for it is private.
        converter._experimental_disable_per_channel = per_tensor  # noqa: SLF001
    return converter


def convert(model, mode: str = "int8", representative_data: Callable[[], Iterable] | None = None,
            io_type: str = "int8", sparse: bool = False, skip_passes=(), per_tensor: bool = False,
            add_passes=()) -> bytes:
    """Convert a tf_keras model at batch 1 (static shapes fold away), after the export's rewrite
    passes for ``mode`` (``lite_tf.deploy.passes``) on by default but those in ``skip_passes``,
    and those off by default in ``add_passes``.

    ``int8``: full-integer, TFLITE_BUILTINS_INT8 only, inputs/outputs of ``io_type`` ('int8',
    'uint8' or 'float32'); needs ``representative_data`` (a callable yielding input batches of
    one). ``int16x8``: int16 activations with int8 weights (TFLite's 16x8 scheme: closer to
    float than int8, run by reference kernels, not XNNPACK), float32 inputs/outputs, calibrated
    alike. ``float16``/``dynamic``: weight-only quantization; ``float32``. ``sparse`` adds
    TFLite's sparsity optimization (pruned weights stored sparse; float models run sparse in
    XNNPACK). ``per_tensor`` (int8): one scale per weight tensor instead of per output channel.
    """
    converter = converter_for(model, mode, representative_data, io_type, sparse, skip_passes, per_tensor,
                              add_passes)
    with console.silenced():  # the converter prints its settings from C++
        return converter.convert()


def write_random_int8(models: dict, folder: str, skip_passes=()) -> dict[str, str]:
    """Each model converted to full-integer int8 (the rewrite passes but ``skip_passes``
    applied), calibrated on the same 16 random images, written to ``folder``; paths by name. For
    latency comparisons, where the values do not matter."""
    paths = {}
    for i, (name, model) in enumerate(models.items()):
        shape = model.input_shape[1:]
        calibration = np.random.default_rng(0).uniform(-1, 1, (16, 1, *shape)).astype("float32")
        paths[name] = os.path.join(folder, f"{i}.tflite")
        with open(paths[name], "wb") as f:
            f.write(convert(model, "int8", lambda: iter(calibration), skip_passes=skip_passes))
    return paths
