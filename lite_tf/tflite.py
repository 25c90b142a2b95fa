"""TFLite conversion (the int8 converter call lives here) and running .tflite models with LiteRT."""

from __future__ import annotations

import os
import re
from typing import Callable, Iterable

import numpy as np

from lite_tf.backend import tf

MODES = ("int8", "float16", "dynamic", "float32")


def convert(model, mode: str = "int8", representative_data: Callable[[], Iterable] | None = None,
            io_type: str = "int8", sparse: bool = False) -> bytes:
    """Convert a tf_keras model at batch 1 (static shapes fold away).

    ``int8``: full-integer, TFLITE_BUILTINS_INT8 only, inputs/outputs of ``io_type`` ('int8',
    'uint8' or 'float32'); needs ``representative_data`` (a callable yielding input batches of
    one). ``float16``/``dynamic``: weight-only quantization; ``float32``. ``sparse`` adds TFLite's
    sparsity optimization (pruned weights stored sparse; float models run sparse in XNNPACK).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    spec = tf.TensorSpec((1, *model.input_shape[1:]), tf.float32)
    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn], model)
    if mode != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if sparse:
        converter.optimizations = [*converter.optimizations, tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if mode == "int8":
        if representative_data is not None:
            converter.representative_dataset = lambda: ([np.asarray(x, np.float32)]
                                                        for x in representative_data())
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        dtype = {"int8": tf.int8, "uint8": tf.uint8, "float32": tf.float32}[io_type]
        converter.inference_input_type = dtype
        converter.inference_output_type = dtype
    return converter.convert()


def write_random_int8(models: dict, folder: str) -> dict[str, str]:
    """Each model converted to full-integer int8, calibrated on the same 16 random images, written
    to ``folder``; paths by name. For latency comparisons, where the values do not matter."""
    paths = {}
    for i, (name, model) in enumerate(models.items()):
        shape = model.input_shape[1:]
        calibration = np.random.default_rng(0).uniform(-1, 1, (16, 1, *shape)).astype("float32")
        paths[name] = os.path.join(folder, f"{i}.tflite")
        with open(paths[name], "wb") as f:
            f.write(convert(model, "int8", lambda: iter(calibration)))
    return paths


class TFLiteModel:
    """A .tflite model in the ai_edge_litert interpreter; ``__call__`` takes and returns float
    arrays, quantizing and dequantizing integer inputs/outputs."""

    def __init__(self, model_content: bytes, num_threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter
        self.interpreter = Interpreter(model_content=model_content, num_threads=num_threads)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]

    def input_tensor(self, x) -> np.ndarray:
        """One float image as the model's input tensor takes it (quantized for an integer input)."""
        dtype = self.input["dtype"]
        if dtype == np.float32:
            return np.asarray(x, np.float32)
        scale, zero = self.input["quantization"]
        info = np.iinfo(dtype)
        return np.clip(np.round(x / scale + zero), info.min, info.max).astype(dtype)

    def _one(self, x):
        self.interpreter.set_tensor(self.input["index"], self.input_tensor(x)[None])
        self.interpreter.invoke()
        y = self.interpreter.get_tensor(self.output["index"])[0]
        if self.output["dtype"] != np.float32:
            scale, zero = self.output["quantization"]
            y = (y.astype(np.float32) - zero) * scale
        return y

    def __call__(self, batch) -> np.ndarray:
        return np.stack([self._one(np.asarray(x, np.float32)) for x in batch])


def _plain_interpreter(model_content: bytes):
    """An interpreter with no delegate applied (the model's own ops) and its tensors by index."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    interp = Interpreter(model_content=model_content,
                         experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interp.allocate_tensors()
    return interp, {t["index"]: t for t in interp.get_tensor_details()}


def tensor_types(model_content: bytes) -> list[tuple[str, str]]:
    """(op name, type of its first input) of every op, before any delegate is applied."""
    interp, tensors = _plain_interpreter(model_content)
    ops = []
    for op in interp._get_ops_details():  # noqa: SLF001 (no public op listing in LiteRT)
        first = next((i for i in op["inputs"] if i >= 0), None)
        ops.append((op["op_name"], np.dtype(tensors[first]["dtype"]).name if first in tensors else "-"))
    return ops


WEIGHTED_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}  # weights: their 2nd input
_LAYER = re.compile(r"([^/;]+)/(?:Conv2D|depthwise|MatMul|BiasAdd)")


def weights(model_content: bytes) -> list[dict]:
    """Every convolution and fully-connected weight tensor: the Keras layer it came from (read
    from the tensor name), its type, size and fraction of zeros (exact for int8: zero point 0)."""
    interp, tensors = _plain_interpreter(model_content)
    out = []
    for op in interp._get_ops_details():  # noqa: SLF001
        if op["op_name"] not in WEIGHTED_OPS or len(op["inputs"]) < 2 or op["inputs"][1] not in tensors:
            continue
        tensor = tensors[op["inputs"][1]]
        try:
            value = interp.get_tensor(tensor["index"])
        except ValueError:  # a tensor computed at run time (e.g. densified from a sparse one)
            continue
        found = _LAYER.findall(tensor["name"])
        layer = found[-1] if found else tensor["name"]
        out.append({"layer": layer.removeprefix("quant_"), "op": op["op_name"],
                    "type": np.dtype(tensor["dtype"]).name, "size": int(value.size),
                    "zeros": float(np.mean(value == 0))})
    return out
