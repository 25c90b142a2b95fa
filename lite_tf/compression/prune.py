"""Magnitude pruning with TF-MOT (Zhu & Gupta, "To prune, or not to prune", arXiv 1710.01878).

``prune_model`` wraps the prunable layers (dense and convolution kernels, except the stem, the
depthwise convolutions and the classifier) in TF-MOT's ``prune_low_magnitude`` with a
PolynomialDecay or ConstantSparsity schedule, with m-by-n (2:4) structured sparsity or blocks of
consecutive input channels pruned together (``block``: zeros in runs, which gzip stores for less
than scattered ones); with ``policy='xnnpack'`` only the 1x1 convolutions that XNNPACK's sparse
inference runs (``PruneForLatencyOnXNNPack``). ``strip`` removes the wrappers; ``summary``
reports the sparsity per layer, ``distinct_values`` the values per channel.
"""

from __future__ import annotations

import dataclasses

import gin
import numpy as np
import tensorflow_model_optimization as tfmot
from tensorflow_model_optimization.python.core.sparsity.keras import pruning_impl, pruning_wrapper

from lite_tf import rundir
from lite_tf.backend import keras, layers, tf
from lite_tf.checks import at_least, field, one_of, validate, within
from lite_tf.compression import stage
from lite_tf.errors import InputError

_s = tfmot.sparsity.keras
SCHEDULES = ("polynomial", "constant")
POLICIES = ("xnnpack",)  # or None: every prunable layer
CLASSIFIER = "logits"


@gin.configurable(module="prune")
@dataclasses.dataclass(frozen=True)
class Pruning:
    """What to prune and how fast. ``target`` sparsity is reached at ``end`` (a fraction of the
    stage's steps) from ``initial`` at ``begin`` (polynomial, power 3), or held from ``begin``
    (constant); masks update every ``frequency`` steps. ``m_by_n`` (e.g. (2, 4): 2 zeros in every
    4 weights along the input channels) replaces ``target``. ``block`` > 1 prunes runs of that
    many consecutive input channels of one filter (contiguous in TFLite's [out, h, w, in] kernel)
    together, by their mean magnitude, and every filter keeps at least its strongest block; a
    layer whose input channels it does not divide, or with too few blocks per filter for the
    target, is pruned weight by weight. Layers whose name starts with one of ``skip`` are left
    dense, as are depthwise convolutions and the classifier."""

    target: float = field(0.75, within(0, 1, high_open=True))
    schedule: str = field("polynomial", one_of(*SCHEDULES))
    initial: float = field(0.0, within(0, 1, high_open=True))
    begin: float = field(0.0, within(0, 1, high_open=True))
    end: float = field(0.7, within(0, 1, low_open=True))
    frequency: int = field(20, at_least(1))
    m_by_n: tuple[int, int] | None = None
    policy: str | None = field(None, one_of(*POLICIES))
    skip: tuple[str, ...] = ("stem",)
    block: int = field(1, at_least(1))

    def check(self) -> None:
        validate(self, "prune.Pruning")
        if not self.initial <= self.target:
            raise InputError(f"prune.Pruning needs 0 <= initial <= target < 1, got initial "
                             f"{self.initial}, target {self.target}")
        if not self.begin < self.end:
            raise InputError(f"prune.Pruning needs 0 <= begin < end <= 1 (fractions of the "
                             f"stage), got begin {self.begin}, end {self.end}")
        if self.block > 1 and self.m_by_n:
            raise InputError("prune.Pruning.block and prune.Pruning.m_by_n exclude each other: "
                             "set one of them")

    def schedule_for(self, steps: int):
        begin, end = round(self.begin * steps), max(round(self.end * steps), 1)
        if self.schedule == "constant":
            return _s.ConstantSparsity(self.target, begin, frequency=self.frequency)
        return _s.PolynomialDecay(self.initial, self.target, begin, end, frequency=self.frequency)


def prunable_name(name: str, skip=("stem",)) -> bool:
    """Whether a layer of this name may be pruned: not the classifier, not a ``skip`` prefix."""
    return name != CLASSIFIER and not name.startswith(tuple(skip))


def prunable(layer, skip=("stem",)) -> bool:
    """Dense and convolution layers with a kernel, except depthwise ones, the classifier and
    the layers named with a ``skip`` prefix."""
    return (isinstance(layer, (layers.Conv2D, layers.Dense))
            and not isinstance(layer, layers.DepthwiseConv2D) and prunable_name(layer.name, skip))


def prune_model(model, pruning: Pruning, steps: int):
    """``model`` with TF-MOT pruning wrappers on its prunable layers (sharing its layers and
    weights); train it with
    ``callbacks()`` and ``strip`` it at the end."""
    pruning.check()
    policy = None
    if pruning.policy == "xnnpack":
        policy = _s.PruneForLatencyOnXNNPack()
        try:
            policy.ensure_model_supports_pruning(model)
        except ValueError as e:
            raise InputError(f"prune.Pruning.policy 'xnnpack' does not apply to {model.name}: "
                             f"{str(e).splitlines()[0]}") from None
    schedule = pruning.schedule_for(steps)
    wrapped = []

    def wrap(layer):
        if prunable(layer, pruning.skip) and (policy is None or policy.allow_pruning(layer)):
            wrapped.append(layer.name)
            if pruning.block > 1:
                return PruneBlocksLowMagnitude(layer, block=pruning.block, target=pruning.target,
                                               pruning_schedule=schedule)
            return _s.prune_low_magnitude(layer, pruning_schedule=schedule,
                                          sparsity_m_by_n=pruning.m_by_n)
        return layer  # shared, as TF-MOT's own prune_low_magnitude(model) does

    pruned = keras.models.clone_model(model, clone_function=wrap)
    if not wrapped:
        raise InputError(f"prune.Pruning leaves nothing to prune in {model.name}")
    return pruned


class _BlockPruning(pruning_impl.Pruning):
    """TF-MOT's mask update over blocks of ``block`` consecutive input channels, for kernels of
    any rank (TF-MOT's own ``block_size`` takes only 2-D weights, so no convolution), keeping
    every filter's strongest block: a filter left with no weights makes a constant channel whose
    BatchNorm variance goes to zero, and post-training int8 then loses the model (the
    quickstart's MobileNeXt pruned in blocks of 8: 78% int8 top-1 without this rule, 98.9% with).
    A layer whose input channels ``block`` does not divide, or whose filters have too few
    blocks to keep one at the ``target`` sparsity (16 inputs at 75%), goes weight by weight."""

    def __init__(self, block: int, target: float, **kwargs):
        super().__init__(block_size=(1, 1), block_pooling_type="AVG", **kwargs)
        self._block, self._target = block, target

    def _maybe_update_block_mask(self, weights):
        *_, inputs, outputs = weights.shape  # [h, w, in, out] or [in, out]
        blocks_per_filter = weights.shape.num_elements() // outputs // self._block
        fits = inputs % self._block == 0 and blocks_per_filter * (1 - self._target) >= 1
        block = self._block if fits else 1
        scores = tf.reduce_mean(tf.reshape(tf.math.abs(weights), [-1, block, outputs]), axis=1)
        strongest = tf.one_hot(tf.argmax(scores, axis=0), tf.shape(scores)[0], axis=0) > 0
        threshold, mask = self._update_mask(tf.where(strongest, tf.reduce_max(scores) + 1, scores))
        return threshold, tf.reshape(tf.repeat(mask, block, axis=0), tf.shape(weights))


@keras.utils.register_keras_serializable(package="lite_tf")
class PruneBlocksLowMagnitude(pruning_wrapper.PruneLowMagnitude):
    """``prune_low_magnitude`` with blocks of ``block`` input channels pruned together, toward a
    final sparsity of ``target``."""

    def __init__(self, layer, *, block: int, target: float, **kwargs):
        super().__init__(layer, **kwargs)
        self.block, self.target = block, target

    def build(self, input_shape):
        super().build(input_shape)
        self.pruning_obj = _BlockPruning(
            self.block, self.target, training_step_fn=self.pruning_obj._step_fn,
            pruning_vars=self.pruning_vars, pruning_schedule=self.pruning_schedule,
            sparsity_m_by_n=None)

    def get_config(self):
        return {**super().get_config(), "block": self.block, "target": self.target}


def callbacks() -> list:
    return [_s.UpdatePruningStep()]


def strip(model):
    """The plain model, pruning wrappers removed, zeros kept."""
    return _s.strip_pruning(model)


def _kernel(layer):
    for name in ("depthwise_kernel", "kernel"):
        if getattr(layer, name, None) is not None:
            return np.asarray(getattr(layer, name))
    return None


def summary(model, skip=("stem",)) -> dict:
    """Fraction of zeros in the kernel of every dense and convolution layer (by name), and
    overall in the prunable layers and in all kernels."""
    inner = [getattr(l, "layer", l) for l in model.layers]  # unwrap pruning wrappers  # noqa: E741
    kernels = {l.name: k for l in inner if (k := _kernel(l)) is not None}  # noqa: E741
    pruned = {l.name for l in inner if prunable(l, skip)}  # noqa: E741

    def overall(names):
        total = sum(kernels[n].size for n in names)
        return float(sum(np.sum(kernels[n] == 0) for n in names) / total) if total else 0.0

    return {"prunable_sparsity": overall(pruned & set(kernels)), "kernel_sparsity": overall(kernels),
            "layers": {n: float(np.mean(k == 0)) for n, k in kernels.items()}}


def distinct_values(model, names) -> dict[str, int]:
    """The most distinct values any output channel of each named layer's kernel holds (a
    fake-quantized layer's float kernel, read from its variables)."""
    out = {}
    for name in names:
        kernel = next(np.asarray(v) for v in model.get_layer(name).weights  # stripped: 'kernel:0'
                      if v.name.rsplit("/", 1)[-1] in ("kernel:0", "depthwise_kernel:0"))
        channels = kernel.reshape(-1, kernel.shape[-1])
        out[name] = max(len(np.unique(channels[:, c])) for c in range(channels.shape[1]))
    return out


@stage.register
class Prune(stage.Stage):
    """``prune``: fine-tune with TF-MOT's pruning wrappers, save the stripped model (zeros kept)
    and the per-layer sparsity in metrics.json."""

    name, label, note = "prune", "prune", "pruned"
    sparse_float = True
    settings = Pruning

    def prepare(self, net, options: Pruning, context):
        pruned = prune_model(net, options, context.steps)
        return stage.Prepared(pruned, callbacks(), final=lambda: strip(pruned),
                              report=lambda model: {"sparsity": summary(model, options.skip)})

    def summary(self, final):
        return [("sparsity", f"{final['sparsity']['prunable_sparsity']:.1%} of the pruned layers' "
                             f"weights (per layer: {rundir.METRICS})")]
