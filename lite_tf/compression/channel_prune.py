"""Structured channel pruning: remove whole filters and rebuild a thinner model of the same family.

Channels are ranked by a criterion of ``channel_criteria``: filter L1 norm, BatchNorm scale, APoZ
or He et al.'s LASSO selection (with least-squares reconstruction of the next layer). A channel group is the output of a 1x1 or kxk convolution that flows only through
per-channel layers (BatchNorm, activations, padding, depthwise convolution) into other
convolutions: inverted-residual and sandglass hidden channels, Fire squeeze layers, ShuffleNet
branch internals, MobileNetV1's pointwise outputs. Channels that reach a residual add, a concat, a
shuffle, an SE gate, pooling or the classifier are never pruned, so every add and concat still
lines up. The thin model is the same functional graph with smaller ``filters``
(``create_model(..., channels={layer: filters})`` rebuilds it) and the surviving weights.
"""

from __future__ import annotations

import dataclasses
import math

import gin
import numpy as np

from lite_tf.backend import layers
from lite_tf.blocks.activations import HardSigmoid, HardSwish
from lite_tf.checks import at_least, field, one_of, validate, within
from lite_tf.compression import channel_criteria as criteria
from lite_tf.compression import latency_target, stage
from lite_tf.errors import InputError
from lite_tf.models.builder import inbound_layers, with_channels
from lite_tf.models.profile import profile_model

SCOPES = ("layer", "global")
# Layers a channel passes through unchanged, one input channel to one output channel.
PER_CHANNEL = (layers.BatchNormalization, layers.ReLU, layers.Activation, layers.PReLU,
               layers.ZeroPadding2D, layers.Dropout, HardSwish, HardSigmoid)


@gin.configurable(module="channel_prune")
@dataclasses.dataclass(frozen=True)
class ChannelPruning(latency_target.Targets):
    """Remove ``ratio`` of the channels of every prunable group (``scope`` 'layer'), or the
    lowest-scoring ``ratio`` of all of them (``scope`` 'global', scores normalized by each group's
    mean); with ``target_macs`` (a fraction of the model's MACs) the ratio is searched for instead;
    with ``target_ms`` or ``target_latency`` the groups shrink greedily, NetAdapt-style, until the
    predicted int8 latency meets it (``latency_target``).
    Every group keeps a multiple of ``divisor`` channels (at least ``divisor``). 'apoz' and
    'lasso' measure ``samples`` training images; 'lasso' refits the next layers (``reconstruct``)."""

    criterion: str = field("l1", one_of(*criteria.CRITERIA), help="how channels are ranked")
    scope: str = field("layer", one_of(*SCOPES))
    ratio: float = field(0.5, within(0, 1, high_open=True))
    target_macs: float | None = field(None, within(0, 1, low_open=True))
    divisor: int = field(8, at_least(1))
    samples: int = field(1024, at_least(1), help="training images for the apoz and lasso statistics")
    reconstruct: bool = field(True, help="lasso: least-squares refit of the layers reading the kept channels")

    def check(self) -> None:
        validate(self, "channel_prune.ChannelPruning")
        self.one_target("channel_prune.ChannelPruning")


@dataclasses.dataclass
class Group:
    """The output channels of ``producer``, the per-channel layers they pass through and the
    convolutions that read them. ``tied``: convolutions whose outputs are multiplied channel by
    channel with the group's (a squeeze-and-excite gate's expand conv), pruned alike."""

    producer: str
    members: list[str]
    consumers: list[str]
    channels: int
    tied: list[str] = dataclasses.field(default_factory=list)


def _conv(layer) -> bool:
    """A dense (not depthwise, not grouped) convolution: its filters can be removed."""
    return (isinstance(layer, layers.Conv2D) and not isinstance(layer, layers.DepthwiseConv2D)
            and getattr(layer, "groups", 1) == 1)


def _per_channel(layer) -> bool:
    if isinstance(layer, layers.DepthwiseConv2D):
        return layer.depth_multiplier == 1
    if isinstance(layer, layers.PReLU):
        return not layer.shared_axes or (len(layer.input_shape) - 1) not in layer.shared_axes
    if isinstance(layer, layers.GlobalAveragePooling2D):  # an SE squeeze: (1, 1, channels)
        return layer.keepdims
    return isinstance(layer, PER_CHANNEL)


def _gate_source(layer, consumers) -> tuple[object, list[str]] | None:
    """The convolution a gate input of a Multiply comes from, through single-input per-channel
    layers that feed nothing else, and those layers; None if it comes from anything else."""
    path = []
    while not _conv(layer):
        if not (_per_channel(layer) and len(inbound_layers(layer)) == 1 and len(consumers[layer.name]) == 1):
            return None
        path.append(layer.name)
        layer = inbound_layers(layer)[0]
    return layer, path


def groups(model) -> list[Group]:
    """Every prunable channel group of ``model``, in graph order. A Multiply passes the group's
    channels on when its other input is a gate made from a convolution of the same width (SE):
    that convolution is tied to the group."""
    consumers: dict[str, list] = {layer.name: [] for layer in model.layers}
    for layer in model.layers:
        for node in layer.inbound_nodes:
            inbound = node.inbound_layers
            for source in inbound if isinstance(inbound, list) else [inbound]:
                consumers[source.name].append(layer)
    outputs = {t._keras_history.layer.name for t in model.outputs}  # noqa: SLF001
    order = {layer.name: i for i, layer in enumerate(model.layers)}
    found = []
    for layer in model.layers:
        if not _conv(layer):
            continue
        members, reading, tied, frontier, ok = [], [], [], [layer], True
        while frontier and ok:
            current = frontier.pop()
            if current.name in outputs or not consumers[current.name]:
                ok = False
            for nxt in consumers[current.name]:
                if _conv(nxt):
                    reading.append(nxt.name)
                elif _per_channel(nxt) or isinstance(nxt, layers.Multiply):
                    if nxt.name in members:
                        continue
                    members.append(nxt.name)
                    frontier.append(nxt)
                    for other in inbound_layers(nxt) if isinstance(nxt, layers.Multiply) else []:
                        if other is current or other.name in members or other is layer:
                            continue
                        gate = _gate_source(other, consumers)
                        if gate is None or gate[0].filters != layer.filters:
                            ok = False
                        else:
                            tied.append(gate[0].name)
                            members.extend(gate[1])
                else:
                    ok = False
        # A tied conv that comes first in the graph heads the group; this one is its tied conv.
        if ok and reading and all(order[t] > order[layer.name] for t in tied):
            found.append(Group(layer.name, members, sorted(set(reading)), layer.filters, tied))
    return found


def _round(n: float, divisor: int, most: int) -> int:
    return min(most, max(divisor, int(math.ceil(n / divisor) * divisor)))


def plan(model, config: ChannelPruning, stats: criteria.Statistics | None = None) -> dict[str, list[int]]:
    """The channels each group keeps (sorted indices), by producer name; ``target_macs`` searches
    the ratio by bisection (MACs of the rebuilt model). 'apoz' and 'lasso' need ``stats``."""
    config.check()
    found = groups(model)
    if not found:
        raise InputError(f"{model.name} has no channels that can be pruned")
    all_scores = {g.producer: criteria.scores(model, g, config.criterion, stats) for g in found}

    def keep(ratio: float) -> dict[str, list[int]]:
        if config.scope == "global":
            normalized = {p: s / (s.mean() or 1.0) for p, s in all_scores.items()}
            pooled = np.sort(np.concatenate(list(normalized.values())))
            threshold = pooled[int(ratio * len(pooled))] if ratio > 0 else -np.inf
            counts = {p: int((s >= threshold).sum()) for p, s in normalized.items()}
        else:
            counts = {p: len(s) * (1 - ratio) for p, s in all_scores.items()}
        return {p: sorted(np.argsort(-s, kind="stable")[:_round(counts[p], config.divisor, len(s))]
                          .tolist()) for p, s in all_scores.items()}

    if config.target_macs is None:
        return keep(config.ratio)
    full = profile_model(model)["macs"]
    low, high = 0.0, 0.95
    if macs_of(model, keep(high)) > config.target_macs * full:
        raise InputError(f"channel pruning cannot bring {model.name} to {config.target_macs:.0%} "
                         f"of its MACs: the prunable channels carry too few of them")
    for _ in range(12):
        mid = (low + high) / 2
        low, high = (mid, high) if macs_of(model, keep(mid)) > config.target_macs * full else (low, mid)
    return keep(high)


def macs_of(model, kept: dict[str, list[int]]) -> int:
    return profile_model(with_channels(model, {p: len(k) for p, k in kept.items()}))["macs"]


def _slice(weights: list[np.ndarray], layer, in_idx, out_idx) -> list[np.ndarray]:
    """``layer``'s weights with only the kept input (``in_idx``) and output (``out_idx``) channels."""
    if isinstance(layer, layers.DepthwiseConv2D):  # (h, w, channels, 1), bias (channels,)
        return [w[:, :, in_idx] if w.ndim == 4 else w[in_idx] for w in weights] if in_idx is not None \
            else weights
    if isinstance(layer, layers.Conv2D):  # (h, w, in, out), bias (out,)
        out = []
        for w in weights:
            if w.ndim == 4:
                w = w[:, :, in_idx] if in_idx is not None else w
                w = w[..., out_idx] if out_idx is not None else w
            elif out_idx is not None:
                w = w[out_idx]
            out.append(w)
        return out
    if in_idx is None:
        return weights
    return [w[..., in_idx] for w in weights]  # BatchNorm vectors, PReLU alpha (..., channels)


def prune_channels(model, kept: dict[str, list[int]], kernels: dict[str, np.ndarray] | None = None):
    """The thin model that keeps channels ``kept[producer]`` of each group, with the surviving
    weights: it computes what ``model`` computes when the removed channels contribute nothing.
    ``kernels``: consumers' kernels already on their kept input channels (a reconstruction)."""
    by_group = {g.producer: g for g in groups(model)}
    unknown = sorted(set(kept) - set(by_group))
    if unknown:
        raise InputError(f"not prunable channel groups of {model.name}: {', '.join(unknown[:5])}")
    thin = with_channels(model, {c: len(k) for p, k in kept.items()
                                 for c in [p, *by_group[p].tied]})
    in_idx, out_idx = {}, {}
    for producer, idx in kept.items():
        idx = np.asarray(idx)
        for name in [producer, *by_group[producer].tied]:
            out_idx[name] = idx
        for name in by_group[producer].members + by_group[producer].consumers:
            in_idx[name] = idx
    for layer in thin.layers:
        source = model.get_layer(layer.name)
        weights = [np.asarray(w) for w in source.get_weights()]
        if kernels and layer.name in kernels:  # its input channels are chosen already
            weights[0] = kernels[layer.name]
            in_idx.pop(layer.name)
        layer.set_weights(_slice(weights, source, in_idx.get(layer.name), out_idx.get(layer.name)))
    return thin


def channels(model) -> dict[str, int]:
    """``filters`` of every convolution that heads a prunable group or is tied to one (what
    ``with_channels`` takes)."""
    return {c: g.channels for g in groups(model) for c in [g.producer, *g.tied]}


def _statistics(model, config: ChannelPruning, batches):
    if config.criterion in criteria.FROM_DATA:
        return criteria.Statistics.measure(model, groups(model), batches, config.samples)
    return None


def prune(model, config: ChannelPruning, batches=None, progress=print):
    """The thin model ``config`` asks of ``model`` (``batches``: training data, for the criteria
    that measure it and for a latency target's proposals)."""
    if config.by_latency:
        return by_latency(model, config, batches, progress)[0]
    stats = _statistics(model, config, batches)
    kept = plan(model, config, stats)
    kernels = None
    if config.criterion == "lasso" and config.reconstruct:
        kernels = criteria.reconstruct(model, groups(model), kept, stats)
    return prune_channels(model, kept, kernels)


def by_latency(model, config: ChannelPruning, batches, progress=print,
               where: latency_target.LatencyTarget | None = None):
    """The thin model meeting ``config``'s latency target, and the walk's figures: groups shrink
    a level (1/levels of their channels, a multiple of ``divisor``) at a time, the one losing
    least per millisecond first (``latency_target.reach``)."""
    config.check()
    found = groups(model)
    if not found:
        raise InputError(f"{model.name} has no channels that can be pruned")
    stats = _statistics(model, config, batches)
    where = where or latency_target.LatencyTarget()  # gin's latency_target.* bindings
    order = {g.producer: np.argsort(-criteria.scores(model, g, config.criterion, stats), kind="stable")
             for g in found}
    step = {g.producer: _round(g.channels / where.levels, config.divisor, g.channels) for g in found}

    def kept(sizes):
        return {p: sorted(order[p][:n].tolist()) for p, n in sizes.items()}

    def build(sizes):
        kernels = None
        if config.criterion == "lasso" and config.reconstruct:
            kernels = criteria.reconstruct(model, found, kept(sizes), stats)
        return prune_channels(model, kept(sizes), kernels)

    def smaller(producer, n):
        return n - step[producer] if n - step[producer] >= config.divisor else None

    sizes, walk = latency_target.reach(model, {g.producer: g.channels for g in found}, smaller, build,
                                       config.target_ms, config.target_latency, batches, where, progress)
    return build(sizes), walk


@stage.register
class ChannelPrune(stage.Stage):
    """``channel_prune``: the thinner model is fine-tuned; its ``channels`` join
    ``train.model_overrides`` in the run's record, so later stages and exports rebuild it."""

    name, label = "channel_prune", "channel prune"
    settings = ChannelPruning

    def prepare(self, net, options: ChannelPruning, context):
        thin, walk = (by_latency(net, options, context.train) if options.by_latency
                      else (prune(net, options, context.train), None))
        figures = {"criterion": options.criterion, **latency_target.shrunk(net, thin, walk)}
        return stage.Prepared(thin, evaluate_first=True,
                              report=lambda model: {"channel_pruning": figures},
                              model_overrides={**(context.model_overrides or {}),
                                               "channels": channels(thin)})

    def summary(self, final):
        return latency_target.shrunk_summary(final["channel_pruning"])
