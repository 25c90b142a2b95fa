"""Shared int8 codes for kernels that hold few values (clustered, Han et al. 2016; low-bit).

The int8 converter scales each output channel of a kernel by its own largest magnitude (after
folding BatchNorm into it), so the 16 shared values of a clustered kernel become 16 different
int8 codes in every channel: up to 16 x channels codes in the tensor, about 7 bits each to
gzip. ``share_codes`` re-scales such kernels after conversion so that every channel codes the
same value with the same byte: channel c's scale becomes ``s_c * M / m_c`` (``m_c`` its largest
magnitude in the Keras kernel, ``M`` the tensor's) and its codes ``round(127 * w / M)``, its bias
re-expressed in the new scale. The arithmetic is the same int8 convolution; only channels whose
values are all small lose resolution (their codes span less than +-127): each shared value moves
by at most ``M / 254``. Kernels the converter already codes alike (low-bit grids scaled per channel)
keep their codes. The export reports its top-1 as measured, after this.
"""

from __future__ import annotations

import numpy as np
from tensorflow.lite.python import schema_py_generated as schema
from tensorflow.lite.tools import flatbuffer_utils

from lite_tf.backend import keras, layers
from lite_tf.deploy import litert

MOST_VALUES = 64  # kernels holding at most this many distinct values share their codes
AGREEMENT = 0.99  # the converter's codes must be the Keras kernel's, this many exactly and the
# rest (ties: 63.5 after folding is 63.4999 or 63.5001) one off, else the kernel is not that layer's
_OPS = {"CONV_2D": (3, 0, 1, 2), "FULLY_CONNECTED": (1, 0)}  # Keras kernel -> TFLite [out, ...]


def _codes(kernel: np.ndarray, top: np.ndarray) -> np.ndarray:
    return np.clip(np.round(127 * kernel / top.reshape(-1, *[1] * (kernel.ndim - 1))), -127, 127)


def share_codes(content: bytes, model: keras.Model) -> tuple[bytes, list[str]]:
    """``content`` (a full-integer int8 TFLite model converted from ``model``) with the
    convolution and fully-connected kernels that hold at most ``MOST_VALUES`` distinct values in
    ``model`` coded alike in every output channel, and those layers' names (none: ``content``
    as it is)."""
    kernels = {}
    for wrapper in model.layers:
        layer = getattr(wrapper, "layer", wrapper)  # a QAT model's wrapped layers
        if isinstance(layer, (layers.Conv2D, layers.Dense)) and not isinstance(layer, layers.DepthwiseConv2D):
            kernels[layer.name] = next(np.asarray(w) for w in wrapper.weights
                                       if w.name.split("/")[-1].startswith("kernel"))
    few = {name: k for name, k in kernels.items() if np.unique(k).size <= MOST_VALUES}
    if not few:
        return content, []
    flat = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    builtins = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    graph, shared = flat.subgraphs[0], []
    for op in graph.operators:
        code = flat.operatorCodes[op.opcodeIndex]
        kind = builtins.get(max(code.builtinCode, code.deprecatedBuiltinCode))
        if kind not in _OPS or len(op.inputs) < 3 or op.inputs[2] < 0:
            continue
        weight, bias = graph.tensors[op.inputs[1]], graph.tensors[op.inputs[2]]
        name = litert.layer_of(weight.name.decode())
        if name not in few or weight.type != schema.TensorType.INT8 or weight.quantization is None:
            continue
        scale = np.asarray(weight.quantization.scale, np.float64)
        kernel = np.transpose(few[name], _OPS[kind]).astype(np.float64)
        if scale.size < 2 or tuple(weight.shape) != kernel.shape or kernel.shape[0] != scale.size:
            continue
        old = np.frombuffer(bytes(flat.buffers[weight.buffer].data), np.int8).reshape(kernel.shape)
        top = np.abs(kernel).reshape(len(scale), -1).max(1)
        live = top > 0  # channels pruned away keep their (zero) codes and scales
        expected = _codes(kernel[live], top[live])
        # BatchNorm folded with a negative scale flips a channel's signs.
        sign = np.where((old[live] * expected).reshape(live.sum(), -1).sum(1) < 0, -1, 1)
        sign = sign.reshape(-1, *[1] * (kernel.ndim - 1))
        if np.mean(old[live] == sign * expected) < AGREEMENT or np.abs(old[live] - sign * expected).max() > 1:
            continue
        new_scale = scale.copy()
        new_scale[live] = scale[live] * top.max() / top[live]
        codes = old.copy()
        codes[live] = sign * _codes(kernel[live], np.full(live.sum(), top.max()))
        if np.unique(codes).size >= np.unique(old).size:  # e.g. low-bit grids, coded alike already
            continue
        flat.buffers[weight.buffer].data = codes.astype(np.int8).view(np.uint8).ravel()
        weight.quantization.scale = new_scale.astype(np.float32)
        bias_scale = np.asarray(bias.quantization.scale, np.float64)
        bias_data = np.frombuffer(bytes(flat.buffers[bias.buffer].data), np.int32).astype(np.float64)
        ratio = scale / new_scale
        flat.buffers[bias.buffer].data = np.clip(np.round(bias_data * ratio), -2**31, 2**31 - 1) \
            .astype(np.int32).view(np.uint8)
        bias.quantization.scale = (bias_scale / ratio).astype(np.float32)
        shared.append(name)
    if not shared:
        return content, []
    return bytes(flatbuffer_utils.convert_object_to_bytearray(flat)), shared
