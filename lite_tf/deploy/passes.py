"""Export-side rewrite passes: a model's layers re-expressed, before conversion, as ops the
runtime's fast kernels (XNNPACK) take, with the same outputs. ``PASSES`` is the registry (each pass
names the conversion modes it serves); ``convert`` applies them all unless told otherwise
(``python -m export --no-pass NAME``), but those off by default, which add MACs for kernels that
run faster on some CPUs and slower on others (``python -m export --pass NAME`` adds one); QAT
models' wrapped layers are left alone.

A pass is a function from a functional model to the rewritten model (None: nothing to do). Most
replace single layers: ``by_layer(rewrite)`` offers ``rewrite(model, entry)`` each layer's config
entry and takes back the layers that replace it, the last under the layer's own name (so its
consumers are untouched), with their weights; or None to keep it.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from lite_tf.backend import keras, layers, tf
from lite_tf.blocks.activations import HardSwish
from lite_tf.blocks.space_to_depth import SpaceToDepth
from lite_tf.errors import InputError


@dataclasses.dataclass(frozen=True)
class Replacement:
    """The layers (config entries, in order, inbound nodes set) that replace one layer, and their
    weights by layer name."""

    entries: list[dict]
    weights: dict[str, list[np.ndarray]]


@dataclasses.dataclass(frozen=True)
class Pass:
    name: str
    modes: tuple[str, ...]  # the conversion modes it is applied in
    run: Callable[[keras.Model], keras.Model | None]  # the rewritten model, None if unchanged
    default: bool = True  # False: applied only when asked for (``--pass NAME``)


def _entry(layer: layers.Layer, inbound: list[list]) -> dict:
    """A functional-config entry for ``layer`` called on ``inbound`` ([name, node, tensor, {}])."""
    return {"class_name": keras.utils.get_registered_name(type(layer)), "config": layer.get_config(),
            "name": layer.name, "inbound_nodes": [inbound]}


def _inputs(entry: dict) -> list[list]:
    return entry["inbound_nodes"][0] if entry["inbound_nodes"] else []


def _depthwise_1x1(name: str, scale: np.ndarray, relu: bool) -> tuple[layers.Layer, list]:
    """A 1x1 depthwise convolution scaling each channel (then ReLU): XNNPACK's int8 kernels take
    it, where they take no int8 MUL by a constant vector or stand-alone RELU."""
    layer = layers.DepthwiseConv2D(1, use_bias=False, activation="relu" if relu else None, name=name)
    return layer, [scale.reshape(1, 1, -1, 1).astype(np.float32)]


def prelu_as_depthwise(model: keras.Model, entry: dict) -> Replacement | None:
    """PReLU with per-channel slopes a <= 1 as ``x + relu((a - 1) * x)``: one 1x1 depthwise
    convolution with a fused ReLU and an ADD, all in XNNPACK's int8 kernels, where the int8 PRELU
    runs on TFLite's reference kernel and splits XNNPACK's graph (exact: for x < 0 the ReLU passes
    (a - 1) x, for x >= 0 it gives 0); one slope for every channel becomes a LeakyReLU (ReLU at 0,
    fused into the convolution before it). A slope above 1 keeps its PRELU. MobileFaceNet int8 at
    112x112, 1 thread, AMD EPYC: 19.6 ms -> 2.10 ms as ``a x + relu((1 - a) x)`` (two depthwise
    convolutions: float32 2.5 ms, benchmarks/int8_efficiency.py); this form, one pass over the
    tensor fewer, 0.73x that (4.74 -> 3.44 ms on a day the VM ran at half speed, float32 5.82 ms:
    0.81x -> 0.59x float32; 7 alternating rounds; 0.60-0.64x on 2026-12-07, 7-15 rounds).
    ``max(x, a x)`` ran 0.90x this form's time but its int8 MAXIMUM shares one scale across
    inputs and output, so ``a x`` is quantized on x's whole range: four trainings on the digits
    agreed with their float models less (99.17-99.72% of the test split, against 99.44-100%) and
    one lost 1.1 points top-1 (2026-12-07)."""
    layer = model.get_layer(entry["name"])
    if not isinstance(layer, layers.PReLU):
        return None
    shape = layer.input_shape
    (alpha,) = layer.get_weights()
    if alpha.shape[:-1] != (1,) * (len(shape) - 2) or len(shape) != 4:  # per-channel slopes only
        return None
    slope = alpha.reshape(-1) * np.ones(shape[-1], np.float32)
    name, inbound = entry["name"], _inputs(entry)
    if np.all(slope == slope[0]):  # one slope (an untrained PReLU's is 0): a LEAKY_RELU or RELU
        return Replacement([_entry(layers.LeakyReLU(float(slope[0]), name=name), inbound)], {})
    if np.any(slope > 1):
        return None
    gated, gated_w = _depthwise_1x1(f"{name}_negative", slope - 1, relu=True)
    add = layers.Add(name=name)
    return Replacement([_entry(gated, inbound), _entry(add, [*inbound, [gated.name, 0, 0, {}]])],
                       {gated.name: gated_w})


LINEAR = (layers.Conv2D, layers.DepthwiseConv2D, layers.Dense)  # kernels a constant factor folds into
PASS_THROUGH = (layers.ZeroPadding2D, layers.GlobalAveragePooling2D, layers.AveragePooling2D,
                layers.Dropout)  # linear and weightless: a factor passes them unchanged


def _takers(model: keras.Model, layer) -> list:
    """The layers that take ``layer``'s output where the model was built."""
    return [c for c in model.layers if c.inbound_nodes and any(
        s is layer for s in tf.nest.flatten(_inbound(c)))]


def _only_taker(model: keras.Model, layer):
    """The one layer that takes ``layer``'s output, if one alone does and no model output is it."""
    takers = _takers(model, layer)
    if len(takers) == 1 and not any(t._keras_history.layer is layer for t in model.outputs):
        return takers[0]
    return None


def _linear_consumers(model: keras.Model, layer) -> list | None:
    """The convolutions and dense layers whose kernels can take a constant factor off
    ``layer``'s output: all that take it, directly or through layers the factor passes
    (``PASS_THROUGH``, and a Multiply with one input carrying it, as squeeze-and-excite's); None
    if anything else takes it, or a model output carries it."""
    found, carrying, todo, products = [], {layer.name}, [layer], []
    while todo:
        current = todo.pop()
        if any(t._keras_history.layer is current for t in model.outputs):
            return None
        for consumer in _takers(model, current):
            if consumer.name in carrying:
                continue
            if type(consumer) in LINEAR:
                found.append(consumer)
            elif type(consumer) in PASS_THROUGH or type(consumer) is layers.Multiply:
                carrying.add(consumer.name)
                todo.append(consumer)
                products += [consumer] if type(consumer) is layers.Multiply else []
            else:
                return None
    if any(sum(s.name in carrying for s in tf.nest.flatten(_inbound(m))) != 1 for m in products):
        return None  # the factor on more than one of a product's inputs
    return found


def hard_swish_as_multiply(model: keras.Model, entry: dict) -> Replacement | None:
    """Hard-swish ``x * relu6(x + 3) / 6`` (MobileNetV3) as ``(x / 6) * relu6(x + 3)``: two 1x1
    depthwise convolutions (scale 1/6; scale 1, bias 3 and a fused ReLU6) and a MUL, all in
    XNNPACK's int8 kernels, where the int8 HARD_SWISH runs on TFLite's reference kernel and splits
    XNNPACK's graph (the same function; float rounding aside). Where only convolutions or dense
    layers take the result (through padding, pooling or squeeze-and-excite's multiply), the 1/6
    goes into their kernels instead:
    ``x * relu6(x + 3)``, one depthwise convolution and a MUL; where something else takes it but a
    BatchNorm that nothing else reads makes ``x``, into that BatchNorm (``x / 6`` and a gate
    ``relu6(6 (x / 6) + 3)``: MobileNetV3-Large's stem, whose block adds it back). MobileNetV3-Large 1.0 at 224x224,
    int8, 1 thread, AMD EPYC (benchmarks/int8_efficiency.py): 6.52 ms -> 2.19 ms; the 1/6 folded
    into the next kernels (19 of its 20 on feature maps, 55 -> 36 depthwise convolutions), 5
    alternating rounds with a training sharing the 2 cores: 0.91x that; MobileNetV3-Small 0.87x."""
    layer = model.get_layer(entry["name"])
    if type(layer) is not HardSwish or len(layer.input_shape) != 4:
        return None
    channels = layer.input_shape[-1]
    name, inbound = entry["name"], _inputs(entry)
    gate = layers.DepthwiseConv2D(1, activation="relu6", name=f"{name}_gate")
    gate_w = [np.ones((1, 1, channels, 1), np.float32), np.full(channels, 3.0, np.float32)]
    folded = _linear_consumers(model, layer)
    if folded:
        return Replacement(
            [_entry(gate, inbound), _entry(layers.Multiply(name=name), [inbound[0], [gate.name, 0, 0, {}]])],
            {gate.name: gate_w, **{c.name: [c.get_weights()[0] / 6, *c.get_weights()[1:]] for c in folded}})
    producer = _inbound(layer)
    if type(producer) is layers.BatchNormalization and producer.scale and producer.center and \
            _only_taker(model, producer) is layer:
        # The 1/6 into the BatchNorm that makes x (its scale and shift), the gate reading 6x.
        gamma, beta, mean, variance = producer.get_weights()
        return Replacement(
            [_entry(gate, inbound), _entry(layers.Multiply(name=name), [inbound[0], [gate.name, 0, 0, {}]])],
            {gate.name: [gate_w[0] * 6, gate_w[1]], producer.name: [gamma / 6, beta / 6, mean, variance]})
    scaled, scaled_w = _depthwise_1x1(f"{name}_scaled", np.full(channels, 1 / 6), relu=False)
    return Replacement(
        [_entry(scaled, inbound), _entry(gate, inbound),
         _entry(layers.Multiply(name=name), [[scaled.name, 0, 0, {}], [gate.name, 0, 0, {}]])],
        {scaled.name: scaled_w, gate.name: gate_w})


def average_pool_as_depthwise(model: keras.Model, entry: dict) -> Replacement | None:
    """A VALID average pooling (ShuffleNetV1's shortcut: zero padding, then 3x3 stride 2, so every
    window counts its padding as PyTorch's does) as the depthwise convolution with weights 1/(k*k)
    that computes it: XNNPACK's int8 kernels take that, where the int8 AVERAGE_POOL_2D runs on
    TFLite's reference kernel and splits XNNPACK's graph. ShuffleNetV1 1.0 at 224x224, int8,
    1 thread, AMD EPYC (benchmarks/int8_efficiency.py): g3 1.57 -> 1.21 ms, g8 2.01 -> 1.48 ms."""
    layer = model.get_layer(entry["name"])
    if type(layer) is not layers.AveragePooling2D or layer.padding != "valid" or \
            layer.data_format != "channels_last" or len(layer.input_shape) != 4:
        return None
    (kh, kw), channels = layer.pool_size, layer.input_shape[-1]
    depthwise = layers.DepthwiseConv2D((kh, kw), layer.strides, padding="valid", use_bias=False,
                                       name=entry["name"])
    return Replacement([_entry(depthwise, _inputs(entry))],
                       {depthwise.name: [np.full((kh, kw, channels, 1), 1 / (kh * kw), np.float32)]})


MAX_DEPTHWISE_TAPS = 25  # the largest depthwise kernel (5x5) found fast in int8 on every CPU timed


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's SAME padding (before, after) along one axis of ``size``."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _large_depthwise(layer) -> bool:
    """A depthwise convolution ``large_depthwise_in_bands`` splits."""
    if type(layer) is not layers.DepthwiseConv2D or layer.data_format != "channels_last" or \
            tuple(layer.dilation_rate) != (1, 1) or len(layer.input_shape) != 4:
        return False
    kh, kw = layer.kernel_size
    return kh * kw > MAX_DEPTHWISE_TAPS and kw <= MAX_DEPTHWISE_TAPS


def _folded_norm(model: keras.Model, layer):
    """The inference BatchNorm that alone takes ``layer``'s (linear) output, if any."""
    taker = _only_taker(model, layer)
    if type(taker) is layers.BatchNormalization and taker.axis in ([3], [-1], 3, -1) and \
            keras.activations.serialize(layer.activation) == "linear":
        return taker
    return None


def large_depthwise_in_bands(model: keras.Model, entry: dict) -> Replacement | None:
    """A depthwise convolution of more than 25 taps (MobileFaceNet's 7x7 global depthwise head, a
    searched block's 7x7) as the sum of depthwise convolutions over bands of its kernel's rows,
    each of at most 25 taps and reading its rows of the input (a crop): 7x7 is 3x7 + 3x7 + 1x7 and
    two ADDs, the same sums of the same products. A BatchNorm after it goes into the bands'
    weights (after an ADD the converter would keep it as a MUL and an ADD). XNNPACK in
    ai_edge_litert 2.3.0 runs int8 depthwise kernels of up to 25 taps in its depthwise
    microkernels and larger ones, on an Intel Xeon (AVX-512 VNNI, AMX), 75-100x slower: 1 thread,
    3 alternating rounds, 28x28x256 input, 5x5 0.21 ms, 3x7 0.21 ms, 4x7 16.2 ms, 7x7 21.6 ms;
    MobileFaceNet's 7x7 on 7x7x512 0.83 ms, 23% of the model (2026-12-06). SAME padding becomes
    an explicit zero padding first, and kernel rows and columns that only read its zeros go (a SAME
    7x7 on a 3x3 map is one 5x5 convolution)."""
    layer = model.get_layer(entry["name"])
    if type(layer) is layers.BatchNormalization:
        source = _inbound(layer)
        if _large_depthwise(source) and _folded_norm(model, source) is layer:
            return Replacement([_entry(layers.Activation("linear", name=layer.name), _inputs(entry))], {})
        return None
    if not _large_depthwise(layer):
        return None
    name, inbound, entries, weights = entry["name"], _inputs(entry), [], {}
    kernel, *bias = layer.get_weights()
    pads, keep = [], []
    for size, k, s in zip(layer.input_shape[1:3], layer.kernel_size, layer.strides):
        before, after = _same_padding(size, k, s) if layer.padding == "same" else (0, 0)
        # Kernel rows (columns) that only ever read the padding's zeros go: on a 3x3 map a SAME
        # 7x7 is a 5x5 (and a band of zeros would leave XNNPACK an ADD of scales it refuses).
        outputs = (size + before + after - k) // s + 1
        first, last = max(0, before - (outputs - 1) * s), min(k - 1, before + size - 1)
        keep.append(slice(first, last + 1))
        before -= first
        pads.append((before, max(0, (outputs - 1) * s + last - first + 1 - size - before)))
    kernel = kernel[keep[0], keep[1]]
    (kh, kw) = kernel.shape[:2]
    if any(pads[0] + pads[1]):
        pad = layers.ZeroPadding2D(tuple(pads), name=f"{name}_pad")
        entries.append(_entry(pad, inbound))
        inbound = [[pad.name, 0, 0, {}]]
    if (norm := _folded_norm(model, layer)) is not None:
        scale = 1 / np.sqrt(norm.moving_variance.numpy() + norm.epsilon)
        scale = scale * (norm.gamma.numpy() if norm.scale else 1)
        shift = (norm.beta.numpy() if norm.center else 0) - norm.moving_mean.numpy() * scale
        kernel = kernel * scale.reshape(kernel.shape[2:])
        bias = [(bias[0] if bias else 0) * scale + shift]
    activation = keras.activations.serialize(layer.activation)
    if kh * kw <= MAX_DEPTHWISE_TAPS:  # trimmed to at most 25 taps: one convolution, no bands
        single = layers.DepthwiseConv2D((kh, kw), layer.strides, padding="valid", activation=activation,
                                        depth_multiplier=layer.depth_multiplier, use_bias=bool(bias), name=name)
        return Replacement(entries + [_entry(single, inbound)], {name: [kernel, *bias]})
    rows, bands = MAX_DEPTHWISE_TAPS // kw, []
    for i, top in enumerate(range(0, kh, rows)):
        height = min(rows, kh - top)
        crop = layers.Cropping2D(((top, kh - top - height), (0, 0)), name=f"{name}_rows{top}_{top + height}")
        band = layers.DepthwiseConv2D((height, kw), layer.strides, padding="valid",
                                      depth_multiplier=layer.depth_multiplier, use_bias=bool(bias) and i == 0,
                                      name=f"{name}_band{i}")
        entries += [_entry(crop, inbound), _entry(band, [[crop.name, 0, 0, {}]])]
        weights[band.name] = [kernel[top:top + height], *(bias if i == 0 else [])]
        bands.append([band.name, 0, 0, {}])
    total = layers.Add(name=name if activation == "linear" else f"{name}_sum")
    entries.append(_entry(total, bands))
    if activation != "linear":
        entries.append(_entry(layers.Activation(activation, name=name), [[total.name, 0, 0, {}]]))
    return Replacement(entries, weights)


STEM_CHANNELS = 4  # the most input channels a strided stem convolution has (an image: RGB, RGBA)


def _stem_source(model: keras.Model, conv):
    """For a stride-2 convolution on at most ``STEM_CHANNELS`` channels of even height and width
    (before the zero padding of a ZeroPadding2D that only it takes, if any): (the layer whose
    output it reads, that ZeroPadding2D or None, the height and width it reads, the padding
    (before, after) of each axis in all); else None."""
    if type(conv) is not layers.Conv2D or tuple(conv.strides) != (2, 2) or conv.groups != 1 or \
            tuple(conv.dilation_rate) != (1, 1) or conv.data_format != "channels_last" or \
            len(conv.input_shape) != 4 or conv.input_shape[-1] > STEM_CHANNELS:
        return None
    source, pad, pads = _inbound(conv), None, [(0, 0), (0, 0)]
    if type(source) is layers.ZeroPadding2D and source.data_format == "channels_last" and \
            _only_taker(model, source) is conv:
        pad, pads, source = source, [tuple(p) for p in source.padding], _inbound(source)
    sizes = (conv if pad is None else pad).input_shape[1:3]
    if len(source.inbound_nodes) != 1 or any(size is None or size % 2 for size in sizes):
        return None
    if conv.padding == "same":
        pads = [(b + sb, a + sa) for (b, a), (sb, sa) in zip(pads, [
            _same_padding(size + b + a, k, 2) for size, (b, a), k in zip(sizes, pads, conv.kernel_size)])]
    return source, pad, sizes, pads


def _blocked(conv, sizes, pads) -> tuple[list, tuple] | None:
    """For the stride-2 ``conv`` reading ``sizes`` with ``pads``: the padding (before, after) of
    each axis of the 2x2-block grid and the kernel's taps on it; None if the grid would need
    cropping instead."""
    block_pads, taps = [], []
    for size, out, k, (before, _) in zip(sizes, conv.output_shape[1:3], conv.kernel_size, pads):
        first = -(-before // 2)  # blocks before the one an output's own position falls in
        count = (k - 1 - before) // 2 + first + 1
        after = out - (size // 2 + first - count + 1)
        if after < 0:
            return None
        block_pads.append((first, after))
        taps.append(count)
    return block_pads, tuple(taps)


def strided_stem_as_space_to_depth(model: keras.Model, entry: dict) -> Replacement | None:
    """A stride-2 convolution on an image's few channels (every 224x224 family's 3x3 stem) as
    SPACE_TO_DEPTH(2) and a stride-1 convolution on 4x the channels, the same products: a 3x3
    kernel with padding 1 becomes 2x2 taps over 2x2 blocks (the taps that fall outside the 3x3
    zero), and the zero padding moves to the block grid, where XNNPACK folds it into the
    convolution. XNNPACK's int8 convolution reads 3 channels slowly: 224x224x3 -> 112x112x16 with
    BatchNorm and ReLU6, 1 thread, Intel Xeon (AVX-512 VNNI), 5 alternating rounds: 0.47 -> 0.35
    ms (32 channels: 0.46 -> 0.37 ms; 2026-12-06); with the padding left before the
    SPACE_TO_DEPTH, on the 3 channels, 0.78 ms."""
    layer = model.get_layer(entry["name"])
    if type(layer) is layers.ZeroPadding2D:  # the stem's own padding moves to the block grid
        taker = _only_taker(model, layer)
        found = _stem_source(model, taker) if taker is not None else None
        keep = found is None or found[1] is not layer or _blocked(taker, *found[2:]) is None
        return None if keep else Replacement([], {})
    found = _stem_source(model, layer)
    if found is None or (blocked := _blocked(layer, *found[2:])) is None:
        return None
    (source, _, _, pads), (block_pads, taps) = found, blocked
    kernel, *bias = layer.get_weights()
    (kh, kw, c, filters), name = kernel.shape, entry["name"]
    weights = np.zeros((*taps, 4 * c, filters), np.float32)
    for j, i, dj, di in np.ndindex(*taps, 2, 2):  # tap (j, i), pixel (dj, di) of its block
        k = (2 * (j - block_pads[0][0]) + dj + pads[0][0], 2 * (i - block_pads[1][0]) + di + pads[1][0])
        if 0 <= k[0] < kh and 0 <= k[1] < kw:
            weights[j, i, (2 * dj + di) * c:(2 * dj + di + 1) * c] = kernel[k]
    s2d = SpaceToDepth(2, name=f"{name}_space_to_depth")
    entries, inbound = [_entry(s2d, [[source.name, 0, 0, {}]])], [[s2d.name, 0, 0, {}]]
    if any(block_pads[0] + block_pads[1]):
        pad = layers.ZeroPadding2D(tuple(block_pads), name=f"{name}_block_pad")
        entries.append(_entry(pad, inbound))
        inbound = [[pad.name, 0, 0, {}]]
    conv = layers.Conv2D(filters, taps, padding="valid", activation=layer.activation,
                         use_bias=layer.use_bias, name=name)
    return Replacement(entries + [_entry(conv, inbound)], {name: [weights, *bias]})


def spread_prelu_slopes(model: keras.Model, seed: int = 0) -> keras.Model:
    """``model`` with every PReLU's slopes drawn per channel from U(0, 0.5) (a fresh PReLU's are
    all 0, which ``prelu_as_depthwise`` makes a ReLU): random-weight benchmarks call it so their
    PReLUs cost what trained ones do."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, layers.PReLU):
            (alpha,) = layer.get_weights()
            layer.set_weights([rng.uniform(0, 0.5, alpha.shape).astype(alpha.dtype)])
    return model


@dataclasses.dataclass(frozen=True)
class Split:
    """A tensor kept as channel ranges: ``parts`` [(tensor, start, stop)], in order."""

    parts: tuple

    @property
    def channels(self) -> int:
        return self.parts[-1][2]


PER_CHANNEL = (layers.BatchNormalization, layers.DepthwiseConv2D, layers.ReLU, layers.Activation,
               layers.LeakyReLU, layers.PReLU)


def _crop_range(layer) -> tuple[int, int] | None:
    """The channel range [start, stop) a ``channel_slice`` layer (lite_tf.blocks.channels) keeps."""
    if not isinstance(layer, layers.Cropping2D) or layer.data_format != "channels_first":
        return None
    (top, bottom), (left, right) = layer.cropping
    channels = layer.input_shape[-1]
    return (left, channels - right) if top == bottom == 0 else None


def _inbound(layer):
    """The layer(s) ``layer`` was called on where the model was built (its first call)."""
    return layer.inbound_nodes[0].inbound_layers


def _partial_adds(model) -> dict[str, tuple]:
    """The identity multiplier's shortcuts (``partial_identity_add``): by their Concatenate's
    name, (x layer, y layer, kept channels k, channels C), where y comes from a chain of
    per-channel layers, each used once, after a plain convolution (the chain to split)."""
    uses: dict[str, int] = {}
    for layer in model.layers:
        if layer.inbound_nodes:
            for source in tf.nest.flatten(_inbound(layer)):
                uses[source.name] = uses.get(source.name, 0) + 1
    found = {}
    for concat in model.layers:
        if not isinstance(concat, layers.Concatenate) or not concat.inbound_nodes:
            continue
        inbound = _inbound(concat)
        if not isinstance(inbound, list) or len(inbound) != 2 or not isinstance(inbound[0], layers.Add):
            continue
        add, rest = inbound
        crops = _inbound(add)
        if not isinstance(crops, list) or len(crops) != 2:
            continue
        ranges = [_crop_range(c) for c in (*crops, rest)]
        if None in ranges:
            continue
        x, y, y_rest = (_inbound(c) for c in (*crops, rest))
        channels = concat.output_shape[-1]
        k = ranges[0][1]
        if y is not y_rest or ranges != [(0, k), (0, k), (k, channels)] or \
                x.output_shape[-1] != channels or _chain_source(y, uses) is None:
            continue
        found[concat.name] = (x, y, k, channels)
    return found


def _chain_source(layer, uses: dict[str, int]):
    """The plain convolution a chain of single-use per-channel layers ending at ``layer`` starts
    from, or None."""
    while isinstance(layer, PER_CHANNEL):
        if isinstance(layer, layers.DepthwiseConv2D) and layer.depth_multiplier != 1:
            return None
        layer = _inbound(layer)
        if not isinstance(layer, layers.Layer) or uses.get(layer.name) != 1:
            return None
    return layer if type(layer) is layers.Conv2D and layer.groups == 1 else None


def _sliced(layer, start: int, stop: int, name: str, out_channels_only: bool):
    """A copy of ``layer`` computing channels [start, stop) of its output (per-channel layers:
    from the same channels of its input)."""
    config = dict(layer.get_config(), name=name)
    if out_channels_only:
        config["filters"] = stop - start
    copy = type(layer).from_config(config)
    weights = [w[..., start:stop] if w.ndim == 1 or out_channels_only or isinstance(layer, layers.PReLU)
               else w[:, :, start:stop, :] for w in layer.get_weights()]
    return copy, weights


class _Regraph:
    """A functional model rebuilt layer by layer, in the order of its layers: ``values`` holds
    what each layer computes, under its name: a tensor, or a pass's own form of one that
    ``plain(value, name)`` turns into a tensor where a layer takes it as it is. Every layer of the
    new graph is a new one (the model given stays as it was); weights are set once it is built."""

    def __init__(self, model: keras.Model, plain: Callable):
        self.model, self.plain, self.copies = model, plain, []
        self.values = {l.name: l.output for l in model.layers if isinstance(l, layers.InputLayer)}

    def layers(self) -> list:
        """The layers to rebuild, in order (the inputs already have their values)."""
        return [l for l in self.model.layers if not isinstance(l, layers.InputLayer)]

    def source(self, layer):
        """The value of the one layer ``layer`` was called on; None if it takes several."""
        inbound = _inbound(layer)
        return self.values[inbound.name] if isinstance(inbound, layers.Layer) else None

    def add(self, layer: layers.Layer, weights: list, *args):
        """``layer`` (a new one) called on ``args``; ``weights`` go into it once the graph is built."""
        self.copies.append((layer, weights))
        return layer(*args)

    def call(self, layer: layers.Layer):
        """A copy of ``layer`` called as in the model given, on plain tensors: its value."""
        node = layer.inbound_nodes[0]  # the call that built the model

        def plain(t):
            history = getattr(t, "_keras_history", None)
            return t if history is None else self.plain(self.values[history.layer.name], layer.name)

        args = tf.nest.map_structure(plain, node.call_args)
        kwargs = tf.nest.map_structure(plain, node.call_kwargs)
        copy = type(layer).from_config(layer.get_config())
        self.copies.append((copy, layer.get_weights()))
        self.values[layer.name] = copy(*args, **kwargs)

    def rebuilt(self) -> keras.Model:
        outputs = [self.plain(self.values[t._keras_history.layer.name], "output") for t in self.model.outputs]
        rebuilt = keras.Model(self.model.inputs, outputs if len(outputs) > 1 else outputs[0],
                              name=self.model.name)
        for copy, weights in self.copies:
            copy.set_weights(weights)
        return rebuilt


def partial_identity_in_two(model: keras.Model) -> keras.Model | None:
    """The identity multiplier's partial shortcut (MobileNeXt: the first C/m channels of the
    block's input added to its output) without slicing and concatenating wide tensors: the
    convolution that starts each block's last chain of per-channel layers (MobileNeXt's expand
    1x1, its BN, ReLU6, depthwise 3x3 and BN) computes the two channel ranges as two tensors, the
    shortcut adds to the first, and the two stay apart through the next block's per-channel
    layers until a layer that mixes channels (its reduce 1x1) takes them concatenated. Each
    channel is computed as before: outputs are unchanged. MobileNeXt-1.0 at 224x224, int8, 1
    thread, AMD EPYC, against the full-identity model (benchmarks/int8_latency.py, 7 rounds):
    identity 1/2 1.006x -> 0.999x, 1/3 0.998x -> 0.969x, 1/6 0.985x -> 0.990x (36 STRIDED_SLICE
    -> 5; differences of 1% are within this VM's noise)."""
    shortcuts = _partial_adds(model)
    if not shortcuts:
        return None
    sources = {_source_name(y): (k, channels) for _, y, k, channels in shortcuts.values()}
    skipped = {l.name for name in shortcuts for l in _shortcut_layers(model.get_layer(name))}
    joined = {}

    def join(value, _consumer=None):  # _Regraph's plain(value, consumer): the name is not needed here
        if not isinstance(value, Split):
            return value
        if id(value) not in joined:
            name = f"{value.parts[0][0]._keras_history.layer.name}_joined"
            joined[id(value)] = layers.Concatenate(name=name)([t for t, _, _ in value.parts])
        return joined[id(value)]

    def part(value, start, stop, name):
        if isinstance(value, Split):
            for tensor, a, b in value.parts:
                if (a, b) == (start, stop):
                    return tensor
        channels = value.channels if isinstance(value, Split) else value.shape[-1]
        return layers.Cropping2D(((0, 0), (start, channels - stop)), data_format="channels_first",
                                 name=name)(join(value))

    graph = _Regraph(model, join)
    values = graph.values
    for layer in graph.layers():
        if layer.name in skipped:
            continue
        if layer.name in shortcuts:
            x, y, k, channels = shortcuts[layer.name]
            head = layers.Add(name=f"{layer.name}_head")(
                [part(values[x.name], 0, k, f"{layer.name}_x"), part(values[y.name], 0, k, f"{layer.name}_y")])
            values[layer.name] = Split(((head, 0, k), (part(values[y.name], k, channels, f"{layer.name}_rest"),
                                                       k, channels)))
            continue
        source = graph.source(layer)
        if layer.name in sources or (isinstance(source, Split) and isinstance(layer, PER_CHANNEL)):
            if layer.name in sources:
                k, channels = sources[layer.name]
                ranges, inputs = [(0, k), (k, channels)], [join(source)] * 2
            else:
                ranges, inputs = [(a, b) for _, a, b in source.parts], [t for t, _, _ in source.parts]
            values[layer.name] = Split(tuple(
                (graph.add(*_sliced(layer, a, b, f"{layer.name}_part{i}", layer.name in sources), x), a, b)
                for i, ((a, b), x) in enumerate(zip(ranges, inputs))))
            continue
        graph.call(layer)
    return graph.rebuilt()


@dataclasses.dataclass(frozen=True)
class Routed:
    """A tensor held as where each of its channels lives: ``channels`` [(tensor, index)], in order.
    Channel slices, concatenations and shuffles only move channels: ``route_channels`` keeps
    their results in this form and emits no op for them."""

    channels: tuple

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Routed(self.channels[index])
        return Routed(tuple(self.channels[i] for i in index))


ABSORBING = (layers.Conv2D, layers.Dense)  # mix all their input channels: any order will do
SPATIAL = (layers.ZeroPadding2D, layers.AveragePooling2D, layers.MaxPooling2D,  # each channel alone
           layers.GlobalAveragePooling2D, layers.GlobalMaxPooling2D)


def _shuffle_permutation(layer, uses: dict[str, list]):
    """For the first layer of a ``channel_shuffle`` (lite_tf.blocks.channels: Reshape to
    (H, W, g, C/g), Permute, Reshape back), its two other layers and the permutation (output
    channel j is input channel ``perm[j]``); None for any other layer."""
    if type(layer) is not layers.Reshape or len(layer.input_shape) != 4 or len(layer.target_shape) != 4:
        return None
    (h, w, c), (th, tw, groups, size) = layer.input_shape[1:], layer.target_shape
    after = uses.get(layer.name, [])
    if (th, tw) != (h, w) or groups * size != c or len(after) != 1 or \
            type(after[0]) is not layers.Permute or tuple(after[0].dims) != (1, 2, 4, 3):
        return None
    back = uses.get(after[0].name, [])
    if len(back) != 1 or type(back[0]) is not layers.Reshape or tuple(back[0].target_shape) != (h, w, c):
        return None
    return after[0], back[0], np.arange(c).reshape(groups, size).T.ravel()


def _permuted_copy(layer, order, axis_in: bool):
    """A copy of ``layer`` (same name) for an input whose channel i is the original's channel
    ``order[i]``: a layer that mixes channels takes its kernel's input rows in that order; a
    per-channel layer takes each channel's weights along (its output is in the same order)."""
    copy = type(layer).from_config(layer.get_config())
    weights = []
    for w in layer.get_weights():
        if axis_in:  # Conv2D (kh, kw, in, out), Dense (in, out): the kernel; the bias stays
            w = np.take(w, order, axis=w.ndim - 2) if w.ndim >= 2 else w
        else:  # DepthwiseConv2D (kh, kw, C, 1); everything else per channel on its last axis
            w = np.take(w, order, axis=2 if w.ndim == 4 else w.ndim - 1)
        weights.append(w)
    return copy, weights


def _merged_groups(kernel: np.ndarray, groups: int, to: int) -> np.ndarray:
    """A grouped convolution's kernel (kh, kw, C / groups, out) as the kernel of ``to`` groups
    (a divisor of ``groups``) that computes the same: each new group's neighbouring groups' blocks
    on its diagonal, zeros elsewhere."""
    size, out, per = kernel.shape[2], kernel.shape[3] // groups, groups // to
    merged = np.zeros((*kernel.shape[:2], size * per, kernel.shape[3]), kernel.dtype)
    for g in range(groups):
        rows = slice(g % per * size, (g % per + 1) * size)
        merged[:, :, rows, g * out:(g + 1) * out] = kernel[:, :, :, g * out:(g + 1) * out]
    return merged


def _regrouped(layer, to: int, kernel: np.ndarray):
    """A copy of the grouped convolution ``layer`` (same name) with ``to`` groups and ``kernel``."""
    config = dict(layer.get_config(), groups=to)
    return type(layer).from_config(config), [kernel, *layer.get_weights()[1:]]


MIN_GROUP_WEIGHTS = 8192  # below it, a group's kernel is too small a matrix product for XNNPACK


def small_groups_merged(model: keras.Model, entry: dict) -> Replacement | None:
    """A grouped convolution whose groups are small matrix products (fewer than 8,192 weights
    each) as one of fewer groups, neighbouring groups merged (zeros off their diagonal blocks) until
    each holds 8,192 or one is left: more MACs, each group's products large enough for XNNPACK's
    int8 kernels. Off by default: it pays where dense int8 kernels run far faster than grouped ones
    (Intel Xeon with AMX) and costs elsewhere. ShuffleNetV1 1x1 convolutions, int8, 1 thread, Intel
    Xeon: 28x28, 240 -> 60, 3 groups of 1,600 weights 48 -> 17 us as one; 384 -> 96, 8 groups of 576
    112 -> 36 us as 2; at 7x7, 1536 -> 384 (8 groups of 9,216) 12 us kept, 15 us as 4. Whole models
    at 224x224 after route_channels_dense, 7 alternating rounds: ShuffleNetV1 g3 1.0 2.15 -> 2.07
    ms, g8 1.0 3.40 -> 2.97 ms; on an AMD EPYC (2026-12-07, 5 rounds) g3 2.11 -> 2.87 ms, g8 2.58
    -> 3.24 ms (after route_channels_dense: g3 2.41 -> 2.82 ms, g8 4.10 -> 4.44 ms)."""
    layer = model.get_layer(entry["name"])
    if type(layer) is not layers.Conv2D or layer.groups == 1:
        return None
    kernel, groups, to = layer.get_weights()[0], layer.groups, layer.groups
    while to > 1 and kernel.size * groups // to ** 2 < MIN_GROUP_WEIGHTS:
        to //= next(p for p in range(2, to + 1) if to % p == 0)
    if to == groups:
        return None
    copy, weights = _regrouped(layer, to, _merged_groups(kernel, groups, to))
    return Replacement([_entry(copy, _inputs(entry))], {copy.name: weights})


def _grouped_copy(layer, order, dense: bool):
    """A copy of the grouped convolution ``layer`` (same name) for an input whose channel i is
    the original's channel ``order[i]``: still grouped where ``order`` keeps every channel in its
    group (its rows permuted within), else (``dense``) one dense convolution whose kernel is the
    groups' blocks on the diagonal, its input rows permuted (``groups`` times the MACs, the same
    sums); else ``_Gather``."""
    kernel, groups = layer.get_weights()[0], layer.groups
    size, out = kernel.shape[2], kernel.shape[3] // groups
    in_groups = np.array_equal(order // size, np.arange(len(order)) // size)
    if not (in_groups or dense):
        raise _Gather(layer.name)
    if in_groups:
        rows = order.reshape(groups, size) % size  # each group's rows, in the new order
        return _regrouped(layer, groups, np.concatenate(
            [np.take(kernel[:, :, :, g * out:(g + 1) * out], rows[g], axis=2) for g in range(groups)], axis=3))
    return _regrouped(layer, 1, np.take(_merged_groups(kernel, groups, 1), order, axis=2))


def route_channels(model: keras.Model, dense: bool = False) -> keras.Model | None:
    """Channel shuffles (ShuffleNetV2, SNet) with no op: the channel splits, concatenations and
    shuffles of a model only move channels, so each result is kept as where its channels live
    and nothing is emitted for them; a layer that mixes all its input channels (a dense
    convolution, a Dense) takes the channels it reads from where they are, as one concatenation of
    contiguous ranges, with its kernel's input rows permuted to match; per-channel layers
    (depthwise, BatchNorm, activations) on such an input take their weights permuted along; a
    grouped convolution whose groups' channels the order scatters (ShuffleNetV1's after its
    shuffle) becomes, with ``dense`` (``route_channels_dense``), one dense convolution
    (``_grouped_copy``: its groups' blocks on the diagonal). Each output is the same sum of the
    same products (float: equal up to summation order). Left alone: models without a shuffle, and
    models where a reordered tensor would have to be gathered back into order (an ADD takes it,
    the model's output, or without ``dense`` such a grouped convolution). At 224x224, int8, 1
    thread, AMD EPYC (benchmarks/int8_efficiency.py, 5 alternating rounds): ShuffleNetV2 1.0 2.01
    -> 1.62 ms (0.81x; its 16 shuffles, 48 RESHAPE/TRANSPOSE, gone; STRIDED_SLICE 26 -> 65,
    smaller), SNet-146 2.71 -> 2.18 ms (0.80x)."""
    uses: dict[str, list] = {}
    for layer in model.layers:
        if layer.inbound_nodes:
            for source in tf.nest.flatten(_inbound(layer)):
                uses.setdefault(source.name, []).append(layer)
    shuffles = {l.name: s for l in model.layers if (s := _shuffle_permutation(l, uses))}
    if not shuffles:
        return None
    skipped = {permute.name for permute, _, _ in shuffles.values()}
    slices, joined = {}, {}

    def routed(value) -> Routed:
        if isinstance(value, Routed):
            return value
        return Routed(tuple((value, i) for i in range(value.shape[-1])))

    def runs(channels):
        """Maximal ranges [(tensor, start, stop)] of consecutive channels of one tensor."""
        found = []
        for tensor, i in channels:
            if found and found[-1][0] is tensor and found[-1][2] == i:
                found[-1][2] = i + 1
            else:
                found.append([tensor, i, i + 1])
        return found

    def piece(tensor, start, stop):
        if (start, stop) == (0, tensor.shape[-1]):
            return tensor
        key = (id(tensor), start, stop)
        if key not in slices:
            name = f"{tensor._keras_history.layer.name}_ch{start}_{stop}"
            slices[key] = layers.Cropping2D(((0, 0), (start, tensor.shape[-1] - stop)),
                                            data_format="channels_first", name=name)(tensor)
        return slices[key]

    def concatenated(parts, name):
        """One tensor of ``parts`` in order, concatenating at most 5 at a time (XNNPACK's int8
        CONCATENATION takes up to 5 inputs)."""
        level = 0
        while len(parts) > 1:
            parts = [p[0] if len(p) == 1 else layers.Concatenate(name=f"{name}{level}_{i}")(p)
                     for i, p in enumerate(parts[j:j + 5] for j in range(0, len(parts), 5))]
            level += 1
        return parts[0]

    def gathered(value: Routed, name: str, any_order: bool):
        """``value`` as one tensor and the order it came in (its channel i is ``value``'s channel
        ``order[i]``): in order, or (``any_order``) each tensor's channels together, ascending;
        slices of contiguous channel ranges and one concatenation, or ``_Gather`` if that cannot
        be done taking each tensor's channels in one range."""
        key = (id(value), any_order)
        if key not in joined:
            at = {c: i for i, c in enumerate((id(t), i) for t, i in value.channels)}
            channels = value.channels
            if any_order:
                tensors = list({id(t): t for t, _ in channels}.values())
                rank = {id(t): r for r, t in enumerate(tensors)}
                channels = sorted(channels, key=lambda c: (rank[id(c[0])], c[1]))
            order = np.array([at[(id(t), i)] for t, i in channels])
            ranges = runs(channels)
            if len(ranges) > len({id(t) for t, _ in channels}):  # a tensor's channels apart
                raise _Gather(name)
            joined[key] = (concatenated([piece(*r) for r in ranges], f"{name}_in{len(joined)}_"), order)
        return joined[key]

    def plain(value, name):
        return gathered(value, name, any_order=False)[0] if isinstance(value, Routed) else value

    graph = _Regraph(model, plain)
    values = graph.values
    try:
        for layer in graph.layers():
            if layer.name in skipped:
                continue
            inbound = _inbound(layer)
            if layer.name in shuffles:
                _, back, perm = shuffles[layer.name]
                values[back.name] = routed(values[inbound.name])[list(perm)]
                skipped.add(back.name)
                continue
            if (span := _crop_range(layer)) is not None:
                values[layer.name] = routed(values[inbound.name])[span[0]:span[1]]
                continue
            if type(layer) is layers.Concatenate and layer.axis in (-1, 3) and len(layer.output_shape) == 4:
                values[layer.name] = Routed(sum((routed(values[l.name]).channels for l in inbound), ()))
                continue
            source = graph.source(layer)
            if isinstance(source, Routed):
                mixes = type(layer) in ABSORBING and getattr(layer, "groups", 1) == 1
                per_channel = isinstance(layer, (*PER_CHANNEL, *SPATIAL)) \
                    and getattr(layer, "depth_multiplier", 1) == 1 \
                    and getattr(layer, "data_format", "channels_last") == "channels_last" \
                    and getattr(layer, "activation", None) is not keras.activations.softmax
                grouped = type(layer) is layers.Conv2D and layer.groups > 1
                if grouped or mixes or per_channel:
                    tensor, order = gathered(source, layer.name, any_order=True)
                    if grouped:
                        values[layer.name] = graph.add(*_grouped_copy(layer, order, dense), tensor)
                    else:
                        out = graph.add(*_permuted_copy(layer, order, axis_in=mixes), tensor)
                        values[layer.name] = out if mixes else Routed(tuple(
                            (out, i) for i in np.argsort(order)))
                    continue
            graph.call(layer)
        return graph.rebuilt()
    except _Gather:
        return None


def route_channels_dense(model: keras.Model) -> keras.Model | None:
    """``route_channels`` with the grouped convolution a shuffle scatters made dense: ShuffleNetV1's
    shuffles gone, its second 1x1 convolutions 3x (g3) or 8x (g8) their MACs. Off by default: it
    pays where dense int8 kernels run far faster than grouped ones. 224x224, int8, 1 thread: Intel
    Xeon with AMX, 7 alternating rounds, ShuffleNetV1 g3 1.0 2.53 -> 2.15 ms, g8 1.0 3.72 -> 3.40
    ms; AMD EPYC (2026-12-07, 5 rounds) g3 2.11 -> 2.41 ms, g8 2.58 -> 4.10 ms."""
    return route_channels(model, dense=True)


class _Gather(Exception):
    """A reordered tensor would have to be gathered back in order: ``route_channels`` gives up."""


def _shortcut_layers(concat) -> list:
    """The Add and channel slices of a ``partial_identity_add`` (its Concatenate given)."""
    add, rest = _inbound(concat)
    return [add, rest, *_inbound(add)]


def _source_name(layer) -> str:
    """The name of the convolution a (checked) per-channel chain ending at ``layer`` starts from."""
    while isinstance(layer, PER_CHANNEL):
        layer = _inbound(layer)
    return layer.name


def check(names) -> list[str]:
    """``names`` as known pass names (one line naming an unknown one)."""
    unknown = [n for n in names if n not in PASSES]
    if unknown:
        raise InputError(f"unknown export pass {unknown[0]!r}; the passes: {', '.join(PASSES)}")
    return list(names)


def apply(model: keras.Model, mode: str, skip=(), add=()) -> tuple[keras.Model, list[str]]:
    """``model`` with every pass of ``mode`` on by default and not in ``skip``, or in ``add``,
    applied, and the names of the passes that changed something. A model that is not a
    functional graph comes back as it is."""
    applied = []
    for p in PASSES.values():
        wanted = p.name in add or (p.default and p.name not in skip)
        if mode in p.modes and wanted and isinstance(model, keras.Model) \
                and getattr(model, "_is_graph_network", False):
            rewritten = p.run(model)
            if rewritten is not None:
                model = rewritten
                applied.append(p.name)
    return model, applied


def by_layer(rewrite: Callable[[keras.Model, dict], Replacement | None]):
    """A pass that offers ``rewrite`` every layer called once (its config entry) and rebuilds the
    model from the config with the replacements."""
    def run(model: keras.Model) -> keras.Model | None:
        return _rewrite(model, rewrite)
    run.__doc__ = rewrite.__doc__
    return run


def _rewrite(model: keras.Model, rewrite) -> keras.Model | None:
    config = model.get_config()
    entries, weights, changed = [], {}, False
    for entry in config["layers"]:
        if len(entry["inbound_nodes"]) == 1:  # a layer called once (shared layers stay)
            replacement = rewrite(model, entry)
            if replacement is not None:
                entries += replacement.entries
                weights.update(replacement.weights)
                changed = True
                continue
        entries.append(entry)
    if not changed:
        return None
    config["layers"] = entries
    rebuilt = keras.Model.from_config(config)
    for layer in rebuilt.layers:
        source = weights.get(layer.name)
        if source is None and layer.weights:
            source = model.get_layer(layer.name).get_weights()
        if source is not None:
            layer.set_weights(source)
    return rebuilt


PASSES = {p.name: p for p in [
    Pass("prelu_as_depthwise", ("int8",), by_layer(prelu_as_depthwise)),
    Pass("hard_swish_as_multiply", ("int8",), by_layer(hard_swish_as_multiply)),
    Pass("average_pool_as_depthwise", ("int8",), by_layer(average_pool_as_depthwise)),
    Pass("large_depthwise_in_bands", ("int8",), by_layer(large_depthwise_in_bands)),
    Pass("strided_stem_as_space_to_depth", ("int8",), by_layer(strided_stem_as_space_to_depth)),
    Pass("small_groups_merged", ("int8",), by_layer(small_groups_merged), default=False),
    Pass("partial_identity_in_two", ("int8", "float16", "dynamic", "float32"), partial_identity_in_two),
    Pass("route_channels", ("int8", "float16", "dynamic", "float32"), route_channels),
    Pass("route_channels_dense", ("int8", "float16", "dynamic", "float32"), route_channels_dense,
         default=False),
]}
