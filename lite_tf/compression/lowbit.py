"""Low-bit weights by quantization-aware training: 4- and 2-bit, ternary and binary.

The chosen layers' kernels (convolutions and dense layers, but depthwise ones, the stem and the
classifier, which stay at 8 bits like every activation) are projected in the forward pass onto a
per-output-channel grid of at most 2^bits values, with straight-through gradients (the float
weights keep learning):

- ``bits=4``: 15 uniform levels k*s, |k| <= 7 (TFLite's narrow int4 range);
- ``bits=2``: 4 uniform levels (k + 1/2)*s, k in {-2, -1, 0, 1};
  the step s clips each channel at the ACIQ optimum for Laplace weights (Banner et al., "Post
  training 4-bit quantization of convolutional networks", 2019): 5.03 (4-bit), 2.83 (2-bit) times
  the channel's mean |w|;
- ``bits=2, ternary=True``: {-a, 0, +a}, zeros below 0.7 mean|w|, a the mean of the rest (TWN: Li
  et al., "Ternary Weight Networks", 2016);
- ``bits=1``: {-a, +a}, a = mean|w| (XNOR-Net's binary weights: Rastegari et al., 2016).

TF-MOT's 8-bit fake quantization follows the projection, so the saved model is an ordinary QAT
model (``lite_tf.compression.qat``) whose kernels already lie on the grid, with 8-bit ranges in
which the grid is exact: the int8 kernels hold the same few int8 values in every channel (4-bit:
18k, |k| <= 7), every phone runs them, and the gain is the compressed size. ``bits=8`` is plain QAT.
"""

from __future__ import annotations

import copy
import dataclasses

import gin
import tensorflow_model_optimization as tfmot
from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
    default_8bit_quantize_registry, default_8bit_quantizers)

from lite_tf.backend import keras, tf
from lite_tf.checks import field, one_of, validate, within
from lite_tf.compression import prune, qat, stage
from lite_tf.compression.quantize import quantize_model, transfer_weights
from lite_tf.errors import InputError

_q = tfmot.quantization.keras
BITS = (1, 2, 4, 8)
ACIQ_CLIP = {2: 2.83, 4: 5.03}  # clip / mean|w| minimizing the error for Laplace weights


@gin.configurable(module="lowbit")
@dataclasses.dataclass(frozen=True)
class LowBitWeights:
    """``bits`` per weight of the convolution and dense kernels (1: binary, 2: 2-bit or, with
    ``ternary``, {-a, 0, +a}, zero where |w| < ``threshold`` times the channel's mean |w|: TWN's
    0.7, higher for more zeros); layers whose name starts with one of ``skip`` keep 8 bits, as
    do depthwise convolutions and the classifier."""

    bits: int = field(4, one_of(*BITS))
    ternary: bool = False
    threshold: float = field(0.7, within(0, 3))  # ternary: zero below this times the mean |w|
    skip: tuple[str, ...] = ("stem",)

    def check(self) -> None:
        validate(self, "lowbit.LowBitWeights")
        if self.ternary and self.bits != 2:
            raise InputError(f"lowbit.LowBitWeights.ternary needs bits = 2 (three values), "
                             f"got bits = {self.bits}")

    @property
    def levels(self) -> int:
        """How many values a channel's weights take."""
        return 3 if self.ternary else {1: 2, 2: 4, 4: 15, 8: 255}[self.bits]

    @property
    def label(self) -> str:
        return "ternary" if self.ternary else {1: "binary"}.get(self.bits, f"{self.bits}-bit")


def _bound(unit, top: int):
    """The 8-bit range (+/-) in which multiples of ``unit`` up to ``top`` are exact int8 values:
    int8 step unit / floor(127 / top), so every channel's grid becomes the same int8 values."""
    return tf.maximum(unit * 127.0 / float(127 // top), 1e-12)


def grid(w, bits: int, ternary: bool = False, per_axis: bool = True, threshold: float = 0.7):
    """(``w`` on its low-bit grid, the 8-bit range that represents the grid exactly): per
    last-axis channel if ``per_axis``, else per tensor. The range is what the 8-bit fake
    quantization and the export use, so the int8 kernel holds the grid with no rounding."""
    w = tf.convert_to_tensor(w)
    axes = list(range(w.shape.rank - 1)) if per_axis else None
    magnitude = tf.abs(w)
    if bits == 8:
        return w, tf.maximum(tf.reduce_max(magnitude, axis=axes, keepdims=True), 1e-12)
    mean = tf.reduce_mean(magnitude, axis=axes, keepdims=True)
    sign = tf.where(w >= 0, 1.0, -1.0)
    if bits == 1:
        return sign * mean, _bound(mean, 1)
    if ternary:
        kept = tf.cast(magnitude > threshold * mean, w.dtype)
        a = tf.math.divide_no_nan(tf.reduce_sum(magnitude * kept, axis=axes, keepdims=True),
                                  tf.reduce_sum(kept, axis=axes, keepdims=True))
        return sign * kept * a, _bound(a, 1)
    clip = ACIQ_CLIP[bits] * mean
    if bits == 2:  # mid-rise: (k + 1/2) s, k in {-2, -1, 0, 1}: odd multiples of s/2, up to 3
        step = clip / 2.0
        k = tf.clip_by_value(tf.floor(tf.math.divide_no_nan(w, step)), -2.0, 1.0)
        return (k + 0.5) * step, _bound(step / 2.0, 3)
    limit = 2 ** (bits - 1) - 1  # mid-tread, narrow: k s, |k| <= 7
    step = clip / float(limit)
    k = tf.clip_by_value(tf.round(tf.math.divide_no_nan(w, step)), -limit, limit)
    return k * step, _bound(step, limit)


@keras.utils.register_keras_serializable(package="lite_tf")
class LowBitWeightsQuantizer(_q.quantizers.LastValueQuantizer):
    """``grid`` with a straight-through gradient, then 8-bit fake quantization over the range
    in which the grid is exact (symmetric, narrow; per channel for convolutions, as TF-MOT's
    weight quantizers, whose range variables it keeps)."""

    def __init__(self, bits: int, ternary: bool = False, per_axis: bool = True,
                 threshold: float = 0.7, **kwargs):
        super().__init__(num_bits=8, per_axis=per_axis, symmetric=True, narrow_range=True)
        self.bits, self.ternary, self.threshold = bits, ternary, threshold

    def build(self, tensor_shape, name, layer):
        if self.per_axis:  # the variables of TF-MOT's convolution weight quantizer
            return default_8bit_quantizers.Default8BitConvWeightsQuantizer.build(
                self, tensor_shape, name, layer)
        return super().build(tensor_shape, name, layer)

    def __call__(self, inputs, training, weights, **kwargs):
        values, bound = grid(inputs, self.bits, self.ternary, self.per_axis, self.threshold)
        projected = inputs + tf.stop_gradient(values - inputs)
        bound = tf.reshape(bound, weights["max_var"].shape)
        if training:  # a record only: the range is always the current kernel's, as bake sets it
            weights["max_var"].assign(bound)
            weights["min_var"].assign(-bound)
        quantize = (tf.quantization.fake_quant_with_min_max_vars_per_channel if self.per_axis
                    else tf.quantization.fake_quant_with_min_max_vars)
        return quantize(projected, -bound, bound, num_bits=8, narrow_range=True)

    def get_config(self):
        return {"bits": self.bits, "ternary": self.ternary, "per_axis": self.per_axis,
                "threshold": self.threshold}

    def __eq__(self, other):
        return isinstance(other, LowBitWeightsQuantizer) and self.get_config() == other.get_config()


class _Registry(default_8bit_quantize_registry.Default8BitQuantizeRegistry):
    """TF-MOT's 8-bit registry, with the low-bit weight quantizer on the layers in ``names``."""

    def __init__(self, weights: LowBitWeights, names: set[str]):
        super().__init__()
        self.weights, self.names = weights, names

    def get_quantize_config(self, layer):
        config = super().get_quantize_config(layer)
        if layer.name in self.names:  # TF-MOT's config is one object for every Conv2D: a copy
            config = copy.copy(config)
            config.weight_quantizer = LowBitWeightsQuantizer(
                self.weights.bits, self.weights.ternary,
                per_axis=isinstance(layer, keras.layers.Conv2D), threshold=self.weights.threshold)
        return config


class _Scheme(_q.default_8bit.Default8BitQuantizeScheme):
    def __init__(self, weights: LowBitWeights, names: set[str]):
        super().__init__()
        self.weights, self.names = weights, names

    def get_quantize_registry(self):
        return _Registry(self.weights, self.names)


def low_bit_layers(model, skip=("stem",)) -> list[str]:
    """The layers whose kernels go low-bit: those pruning would prune (no depthwise, no stem,
    no classifier)."""
    return [layer.name for layer in model.layers if prune.prunable(layer, skip)]


def quantize_low_bit(model, weights: LowBitWeights):
    """``model`` fake-quantized for training, its chosen kernels on the low-bit grid."""
    names = set(low_bit_layers(model, weights.skip))
    if not names:
        raise InputError(f"lowbit.LowBitWeights leaves no layer of {model.name} to quantize "
                         f"below 8 bits")
    return quantize_model(model, scheme=_Scheme(weights, names))


def bake(trained, net, weights: LowBitWeights):
    """The plain QAT model of ``net`` (``qat.QAT.rebuild``) holding ``trained``'s weights, each
    low-bit kernel replaced by its grid values (the forward pass's, exactly)."""
    plain = quantize_model(net)
    transfer_weights(trained, plain)
    for name in low_bit_layers(net, weights.skip):
        wrapper = plain.get_layer(f"quant_{name}")
        per_axis = isinstance(wrapper.layer, keras.layers.Conv2D)
        found = {v.name.rsplit("/", 1)[-1].split(":")[0]: v for v in wrapper.weights}
        values, bound = grid(found["kernel"], weights.bits, weights.ternary, per_axis, weights.threshold)
        found["kernel"].assign(values)
        found["kernel_max"].assign(tf.reshape(bound, found["kernel_max"].shape))
        found["kernel_min"].assign(-found["kernel_max"])
    return plain


@stage.register
class LowBit(qat.QAT):
    """``lowbit``: QAT with low-bit weights (``LowBitWeights``), saved as a plain QAT model."""

    name, label = "lowbit", "low-bit QAT"
    note = "quantization-aware trained with low-bit weights"
    settings = LowBitWeights

    def check(self, options, precision):
        super().check(options, precision)
        options.check()

    def prepare(self, net, options: LowBitWeights, context):
        model = quantize_low_bit(net, options)
        names = low_bit_layers(net, options.skip)

        def report(saved):
            values = prune.distinct_values(saved, [f"quant_{n}" for n in names])
            return {"low_bit": {"weights": options.label, "levels": options.levels,
                                "layers": len(names), "most_values_per_channel": max(values.values())}}

        return stage.Prepared(model, final=lambda: bake(model, net, options), report=report)

    def summary(self, final):
        low = final["low_bit"]
        return [("low-bit weights", f"{low['weights']} in {low['layers']} layers (at most "
                                    f"{low['most_values_per_channel']} values per channel)")]
