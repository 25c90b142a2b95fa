"""Evaluation samples for the on-device accuracy check: ``<model>.samples`` beside each exported
model holds a few evaluation images exactly as the model's input tensor takes them (quantized for
an int8 input), the host's LiteRT top-1 prediction for each, their labels and the model's host
top-1. The Android app runs them and reports how often it agrees with the host.

The format is plain little-endian binary, read by ``android_demo/core`` (``Samples.java``) with no
library: a 28-byte header (``LTFS``, version 1, count, bytes per sample, classes, dtype code, host
top-1 as float32, NaN when unknown), ``count`` int32 host predictions, ``count`` int32 labels, then
the samples back to back.
"""

from __future__ import annotations

import struct

import numpy as np

from lite_tf import files
from lite_tf.errors import InputError

MAGIC = b"LTFS"
VERSION = 1
HEADER = struct.Struct("<4sIIIIIf")
DTYPES = {1: np.float32, 2: np.int8, 3: np.uint8}  # the codes Samples.java knows


def write(path: str, inputs: np.ndarray, predictions, labels, num_classes: int,
          top1: float | None) -> None:
    """``inputs``: (count, ...) in the model's input dtype; one prediction and label per sample."""
    inputs = np.ascontiguousarray(inputs)
    codes = {np.dtype(t): c for c, t in DTYPES.items()}
    if inputs.dtype not in codes:
        raise ValueError(f"samples must be float32, int8 or uint8, got {inputs.dtype}")
    count = len(inputs)
    predictions, labels = (np.asarray(a, "<i4").reshape(count) for a in (predictions, labels))
    header = HEADER.pack(MAGIC, VERSION, count, inputs[0].nbytes if count else 0, num_classes,
                         codes[inputs.dtype], float("nan") if top1 is None else top1)
    files.write_atomic(path, header + predictions.tobytes() + labels.tobytes()
                       + inputs.astype(inputs.dtype.newbyteorder("<")).tobytes())


def read(path: str) -> dict:
    """``inputs`` (count, bytes per sample as the dtype's flat values), ``predictions``, ``labels``,
    ``num_classes``, ``top1``."""
    with open(path, "rb") as f:
        content = f.read()
    if len(content) < HEADER.size or content[:4] != MAGIC:
        raise InputError(f"{path} is not a lite_tf samples file")
    magic, version, count, size, classes, code, top1 = HEADER.unpack_from(content)
    if version != VERSION or code not in DTYPES:
        raise InputError(f"{path}: samples version {version}, dtype {code}: not readable here")
    offset = HEADER.size
    dtype = np.dtype(DTYPES[code]).newbyteorder("<")
    expected = offset + 8 * count + count * size
    if len(content) != expected or size % dtype.itemsize:
        raise InputError(f"{path} is truncated or damaged: {count} samples of {size} bytes take "
                         f"{expected} bytes, the file has {len(content)}")
    predictions = np.frombuffer(content, "<i4", count, offset)
    labels = np.frombuffer(content, "<i4", count, offset + 4 * count)
    inputs = np.frombuffer(content, dtype, offset=offset + 8 * count)
    return {"inputs": inputs.reshape(count, size // dtype.itemsize), "predictions": predictions,
            "labels": labels, "num_classes": classes,
            "top1": None if np.isnan(top1) else float(top1)}
