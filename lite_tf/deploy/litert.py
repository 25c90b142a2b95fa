"""Running .tflite models with LiteRT: a callable model, and what a converted file holds (op types,
weight tensors)."""

from __future__ import annotations

import gzip
import re

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from lite_tf import console


class TFLiteModel:
    """A .tflite model in the ai_edge_litert interpreter; ``__call__`` takes and returns float
    arrays, quantizing and dequantizing integer inputs/outputs."""

    def __init__(self, model_content: bytes, num_threads: int = 1):
        with console.silenced():  # LiteRT announces its XNNPACK delegate from C++
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


def delegated(model_content: bytes) -> list[bool]:
    """Per op (in ``tensor_types``' order): whether LiteRT's default delegate (XNNPACK) runs it,
    as the interpreter partitions the graph; the others run on TFLite's own kernels."""
    with console.silenced():
        interp = Interpreter(model_content=model_content, num_threads=1)
        interp.allocate_tensors()
    nodes = interp._get_ops_details()  # noqa: SLF001: the model's ops, then one per delegated partition
    ops = [n for n in nodes if n["op_name"] != "DELEGATE"]
    producer = {t: i for i, op in enumerate(ops) for t in op["outputs"]}
    runs = [False] * len(ops)
    for partition in (n for n in nodes if n["op_name"] == "DELEGATE"):
        # A partition is the ops between its inputs and outputs: walk back from its outputs.
        stop, todo = set(partition["inputs"]), list(partition["outputs"])
        while todo:
            tensor = todo.pop()
            i = producer.get(tensor)
            if tensor in stop or i is None or runs[i]:
                continue
            runs[i] = True
            todo += [t for t in ops[i]["inputs"] if t >= 0]
    return runs


def ops_and_outside_xnnpack(model_content: bytes) -> tuple[list[str], list[str]]:
    """The model's op types, in order, and those of its ops XNNPACK does not run."""
    ops = [op for op, _ in tensor_types(model_content)]
    return ops, [op for op, runs in zip(ops, delegated(model_content)) if not runs]


WEIGHTED_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}  # weights: their 2nd input
_LAYER = re.compile(r"([^/;]+)/(?:Conv2D|depthwise|MatMul|BiasAdd)")


def layer_of(tensor_name: str) -> str:
    """The Keras layer a converted activation tensor came from, read from its name
    ('net/s1_bn/FusedBatchNormV3;net/s1/Conv2D' -> 's1', 'net/s2_add/add' -> 's2_add')."""
    found = _LAYER.findall(tensor_name)
    if found:
        return found[-1].removeprefix("quant_")
    return tensor_name.split(";")[0].split("/")[-2] if "/" in tensor_name else tensor_name


def _most_values_per_channel(value, op: str) -> int:
    axis = -1 if op == "DEPTHWISE_CONV_2D" else 0  # TFLite kernels: [out, ...], depthwise [1, h, w, out]
    channels = np.moveaxis(value, axis, 0).reshape(value.shape[axis], -1)
    return max(int(np.unique(c).size) for c in channels)


def weights(model_content: bytes) -> list[dict]:
    """Every convolution and fully-connected weight tensor: the Keras layer it came from (read
    from the tensor name), its type, size, fraction of zeros (exact for int8: zero point 0),
    distinct values, the most distinct values of any output channel (clustered and low-bit
    kernels hold few), its quantization scales (one per output channel, or one: per-tensor;
    none: float) and its bytes gzip-compressed on their own (where a download's bytes go)."""
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
                    "zeros": float(np.mean(value == 0)), "values": int(np.unique(value).size),
                    "most_values_per_channel": _most_values_per_channel(value, op["op_name"]),
                    "scales": int(len(tensor["quantization_parameters"]["scales"])),
                    "gzip_bytes": len(gzip.compress(value.tobytes(), 9))})
    return out
