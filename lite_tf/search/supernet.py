"""A weight-sharing supernet over the search space: trained once per dataset, then every candidate's
weights are a slice of it (once-for-all, Cai et al. 2020, arXiv 1908.09791; the sandwich rule and
in-place distillation of BigNAS, Yu et al. 2020, arXiv 2003.11142; one path per step as single-path
one-shot, Guo et al. 2020, arXiv 1904.00420).

Each block position (stage s, block b) holds one set of weights per block type, each at the largest
shape any candidate gives it: the largest kernel (a smaller kernel is its centre: once-for-all's
elastic kernel without the transform matrices), the most channels (a candidate takes the first
ones: elastic width and expansion) and every block of the deepest stage (a shallower candidate
skips the last ones: elastic depth). A training step runs, on one batch, the largest candidate, the
smallest and ``RANDOM`` random ones (block types and activations drawn for each); the largest learns
from the labels, the others from its predictions, and the step applies the summed gradients.

A candidate's estimate: its weights sliced into the zoo model ``space.build`` gives (``extract``),
its BatchNorm statistics recomputed on ``CALIBRATION`` training batches (``recalibrate``: the shared
weights' statistics fit no single candidate), then its top-1 on the evaluation split.

The supernet is training-time code (tf ops, with masks on the channels a candidate leaves unused)
and is never exported: what trains on, quantizes and exports is the zoo model it fills.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import random
import re
import time

import numpy as np

from lite_tf import files
from lite_tf.backend import keras, tf
from lite_tf.blocks import make_divisible, sandglass_hidden
from lite_tf.errors import InputError
from lite_tf.models.searched import ACTIVATIONS, SE_REDUCTION, Architecture
from lite_tf.search.space import Space
from lite_tf.training import optim

RANDOM = 2  # random candidates per step, besides the largest and the smallest
PROGRESS_STEPS = 50  # a progress line every so many training steps
CALIBRATION = 20  # training batches a candidate's BatchNorm statistics are recomputed on
START_KERNEL = 3  # the UIB's first depthwise kernel (lite_tf/models/searched.py)
PLAN_FIELDS = ("on", "cin", "cout", "hidden", "se_width", "dw1", "dw2", "residual", "kept")


def block_plan(kind: str, cin: int, cout: int, expansion: int, stride: int,
               identity_multiplier: float) -> dict[str, int]:
    """The widths and switches of one block as lite_tf/models/searched.py builds it (``stride`` as
    built, before any ``drop_strides``): hidden width, SE width, sandglass depthwise convs, shortcut
    and the sandglass's identity channels."""
    same = int(stride == 1 and cin == cout)
    if kind == "sandglass":
        return {"hidden": sandglass_hidden(cin, cout, expansion), "se_width": _se(cout),
                "dw1": int(cin == cout), "dw2": int(cin == cout or stride == 2), "residual": same,
                "kept": int(cout * identity_multiplier + 1e-6)}
    hidden = cin * expansion if kind == "inverted_residual" else make_divisible(cin * expansion)
    return {"hidden": hidden, "se_width": _se(hidden), "dw1": 0, "dw2": 0, "residual": same,
            "kept": cout}


def _se(channels: int) -> int:
    return make_divisible(channels / SE_REDUCTION, 8)


def check(space: Space, overrides: dict | None) -> None:
    """One line if the supernet cannot hold ``space`` with these ``create_model`` overrides."""
    unsupported = sorted(set(overrides or {}) - {"drop_strides", "bn_epsilon", "bn_momentum",
                                                 "dropout"})
    if unsupported:
        raise InputError(f"the supernet estimator does not take the model override "
                         f"{unsupported[0]!r}: remove it or use estimator 'train'")
    if len(space.resolutions) != 1:
        raise InputError(f"the supernet estimator takes one resolution; search.Space."
                         f"resolutions has {len(space.resolutions)}")
    if min(space.expansions) < 2:
        raise InputError("the supernet estimator needs expansions >= 2 (an expansion of 1 "
                         "drops the inverted residual's 1x1 expand)")


@dataclasses.dataclass(frozen=True)
class Slot:
    """One block position's largest shapes for one block type."""

    cin: int
    cout: int
    hidden: int
    se_width: int


class Supernet(tf.Module):
    """The shared weights of every candidate of ``space`` (one resolution) for ``classes`` classes;
    ``overrides`` are the candidates' ``create_model`` overrides (``drop_strides``, ``bn_epsilon``)."""

    def __init__(self, space: Space, classes: int, overrides: dict | None = None, seed: int = 0):
        super().__init__(name="supernet")
        overrides = dict(overrides or {})
        check(space, overrides)
        self.space = space
        self.eps = overrides.get("bn_epsilon", 1e-3)
        self.dropout = overrides.get("dropout", 0.2)
        # Each stage's stride (0: the stem's), the first `drop_strides` downsamplings at stride 1.
        nominal = [2] + [stride for _, stride in space.skeleton]
        strided = [i for i, stride in enumerate(nominal) if stride == 2]
        dropped = strided[:overrides.get("drop_strides", 0)]
        self.strides = [1 if i in dropped else stride for i, stride in enumerate(nominal)]
        self.kernel = max(space.kernels)
        self.depth = max(space.depths)
        self.channels = [[space.stem]] + [sorted({make_divisible(base * w) for w in space.widths})
                                          for base, _ in space.skeleton]
        init = keras.initializers.GlorotUniform(seed)
        self.weights_by_name: dict[str, tf.Variable] = {}

        def add(name, shape, kind="kernel"):
            value = (init(shape) if kind == "kernel" else
                     tf.ones(shape) if kind == "gamma" else tf.zeros(shape))
            self.weights_by_name[name] = tf.Variable(value, name=name.replace("/", "__"))

        def conv_bn(name, shape, depthwise=False):
            add(f"{name}/{'depthwise_kernel' if depthwise else 'kernel'}", shape)
            channels = shape[2] if depthwise else shape[3]
            add(f"{name}_bn/gamma", (channels,), "gamma")
            add(f"{name}_bn/beta", (channels,), "beta")

        k = self.kernel
        conv_bn("stem", (3, 3, 3, space.stem))
        self.slots: dict[str, Slot] = {}  # by "<block type>/s<stage>b<block>"
        for s, (_, stride) in enumerate(space.skeleton, 1):
            for b in range(1, self.depth + 1):
                ins = self.channels[s - 1] if b == 1 else self.channels[s]
                for kind in space.blocks:
                    plans = [block_plan(kind, cin, cout, e, stride if b == 1 else 1, im)
                             for cin, cout, e, im in itertools.product(
                                 ins, self.channels[s], space.expansions, space.identity_multipliers)
                             if b == 1 or cin == cout]
                    slot = Slot(max(ins), max(self.channels[s]), max(p["hidden"] for p in plans),
                                max(p["se_width"] for p in plans))
                    n = f"{kind}/s{s}b{b}"
                    self.slots[n] = slot
                    if kind == "sandglass":
                        conv_bn(f"{n}_dw1", (k, k, slot.cin, 1), True)
                        conv_bn(f"{n}_reduce", (1, 1, slot.cin, slot.hidden))
                        conv_bn(f"{n}_expand", (1, 1, slot.hidden, slot.cout))
                        conv_bn(f"{n}_dw2", (k, k, slot.cout, 1), True)
                        gated = slot.cout
                    else:
                        if kind == "uib":
                            conv_bn(f"{n}_dw_start", (START_KERNEL, START_KERNEL, slot.cin, 1), True)
                        conv_bn(f"{n}_expand", (1, 1, slot.cin, slot.hidden))
                        conv_bn(f"{n}_dw", (k, k, slot.hidden, 1), True)
                        conv_bn(f"{n}_project", (1, 1, slot.hidden, slot.cout))
                        gated = slot.hidden
                    add(f"{n}_se_reduce/kernel", (1, 1, gated, slot.se_width))
                    add(f"{n}_se_reduce/bias", (slot.se_width,), "beta")
                    add(f"{n}_se_expand/kernel", (1, 1, slot.se_width, gated))
                    add(f"{n}_se_expand/bias", (gated,), "beta")
        conv_bn("head_conv", (1, 1, max(self.channels[-1]), space.head))
        add("logits/kernel", (space.head, classes))
        add("logits/bias", (classes,), "beta")
        # A plan: one int32 scalar per name, the same names for every candidate (no retracing).
        self.plan_names = ["stem_act", "head_act"] + [
            f"s{s}_{f}" for s in range(1, len(space.skeleton) + 1)
            for f in ("block", "kernel", "act", "se")] + [
            f"s{s}b{b}_{f}" for s in range(1, len(space.skeleton) + 1)
            for b in range(1, self.depth + 1) for f in PLAN_FIELDS]

    # --- candidates -----------------------------------------------------------------------------

    def plan(self, arch: Architecture) -> dict[str, int]:
        """The switches and widths of ``arch`` (a candidate of the space) as the forward pass
        takes them."""
        p = dict.fromkeys(self.plan_names, 0)
        p.update(stem_act=ACTIVATIONS.index(arch.stages[0].activation),
                 head_act=ACTIVATIONS.index(arch.stages[-1].activation))
        cin = arch.stem
        for s, st in enumerate(arch.stages, 1):
            p.update({f"s{s}_block": self.space.blocks.index(st.block), f"s{s}_kernel": st.kernel,
                      f"s{s}_act": ACTIVATIONS.index(st.activation), f"s{s}_se": int(st.se)})
            for b in range(1, st.depth + 1):
                built = block_plan(st.block, cin, st.channels, st.expansion,
                                   st.stride if b == 1 else 1, arch.identity_multiplier)
                p.update({f"s{s}b{b}_{f}": v for f, v in built.items()})
                p.update({f"s{s}b{b}_on": 1, f"s{s}b{b}_cin": cin, f"s{s}b{b}_cout": st.channels})
                cin = st.channels
        return p

    def largest(self, rng: random.Random) -> Architecture:
        return self._extreme(rng, max)

    def smallest(self, rng: random.Random) -> Architecture:
        return self._extreme(rng, min)

    def _extreme(self, rng, pick) -> Architecture:
        values = self.space.draw(rng)
        for name, choices in self.space.dimensions().items():
            if name.endswith(("_kernel", "_expansion", "_depth", "_width", "_se")):
                values[name] = pick(choices)
        return self.space.choose(values)

    # --- the forward pass -----------------------------------------------------------------------

    def __call__(self, images, plan: dict, training_dropout: float = 0.0):
        """Logits of the candidate ``plan`` describes, BatchNorm on the batch's statistics."""
        w, p = self.weights_by_name, plan
        x = self._conv(images, w["stem/kernel"], self.strides[0])
        x = _act(self._bn(x, "stem", space_mask=None), p["stem_act"])
        for s in range(1, len(self.space.skeleton) + 1):
            for b in range(1, self.depth + 1):
                x = self._position(x, s, b, p)
        x = self._conv(x, w["head_conv/kernel"], 1)
        x = _act(self._bn(x, "head_conv", space_mask=None), p["head_act"])
        x = tf.reduce_mean(x, [1, 2])
        if training_dropout:
            x = tf.nn.dropout(x, training_dropout)
        return tf.matmul(x, w["logits/kernel"]) + w["logits/bias"]

    def _position(self, x, s, b, p):
        def branch(kind):
            return lambda: self._block(kind, x, s, b, p)
        kinds = self.space.blocks
        run = branch(kinds[0]) if len(kinds) == 1 else (
            lambda: tf.switch_case(p[f"s{s}_block"], [branch(k) for k in kinds]))
        if b == 1:
            return run()
        return tf.cond(p[f"s{s}b{b}_on"] > 0, run, lambda: x)

    def _block(self, kind, x, s, b, p):
        w, n = self.weights_by_name, f"{kind}/s{s}b{b}"
        slot = self.slots[n]
        stride = self.strides[s] if b == 1 else 1
        k, act, q = p[f"s{s}_kernel"], p[f"s{s}_act"], f"s{s}b{b}_"
        hidden = _mask(p[q + "hidden"], slot.hidden)
        cout = _mask(p[q + "cout"], slot.cout)
        if kind == "sandglass":
            y = x
            if b == 1:  # the first block's depthwise convs depend on its widths
                y = tf.cond(p[q + "dw1"] > 0, lambda: self._dw_block(y, f"{n}_dw1", k, 1, act,
                                                                     _mask(p[q + "cin"], slot.cin)),
                            lambda: y)
            else:
                y = self._dw_block(y, f"{n}_dw1", k, 1, act, _mask(p[q + "cin"], slot.cin))
            y = self._bn(self._conv(y, w[f"{n}_reduce/kernel"], 1), f"{n}_reduce", hidden)
            y = _act(self._bn(self._conv(y, w[f"{n}_expand/kernel"], 1), f"{n}_expand", cout), act)
            if b == 1 and self.space.skeleton[s - 1][1] == 1:  # pw_pw (no dw2) or full
                y = tf.cond(p[q + "dw2"] > 0,
                            lambda: self._dw_block(y, f"{n}_dw2", k, 1, None, cout), lambda: y)
            else:
                y = self._dw_block(y, f"{n}_dw2", k, stride, None, cout)
            y = self._se(y, n, p, s, q, slot)
            kept = _mask(p[q + "kept"], slot.cout)
        else:
            y = x
            if kind == "uib":
                y = self._dw_block(y, f"{n}_dw_start", START_KERNEL, 1, None,
                                   _mask(p[q + "cin"], slot.cin))
            y = _act(self._bn(self._conv(y, w[f"{n}_expand/kernel"], 1), f"{n}_expand", hidden), act)
            y = self._dw_block(y, f"{n}_dw", k, stride, act, hidden)
            y = self._se(y, n, p, s, q, slot)
            y = self._bn(self._conv(y, w[f"{n}_project/kernel"], 1), f"{n}_project", cout)
            kept = cout
        if b == 1 and stride == 1:  # a shortcut where the plan says the widths match
            return y + _fit(x, slot.cout) * kept * tf.cast(p[q + "residual"], tf.float32)
        return y + x * kept if b > 1 else y

    def _dw_block(self, x, name, k, stride, act, mask):
        kernel = self.weights_by_name[f"{name}/depthwise_kernel"]
        big = kernel.shape[0]
        if big > 1:
            centre = tf.cast(tf.abs(tf.range(big) - big // 2) <= k // 2, tf.float32)
            kernel = kernel * (centre[:, None] * centre[None, :])[:, :, None, None]
        pad = (big - 1) // 2
        y = tf.nn.depthwise_conv2d(tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]]), kernel,
                                   [1, stride, stride, 1], "VALID")
        y = self._bn(y, name, mask)  # masked: an activation keeps its zeros
        return y if act is None else _act(y, act)

    def _se(self, y, n, p, s, q, slot):
        w = self.weights_by_name

        def excite():
            g = tf.reduce_mean(y, [1, 2], keepdims=True)
            g = tf.nn.relu(self._conv(g, w[f"{n}_se_reduce/kernel"], 1) + w[f"{n}_se_reduce/bias"])
            g = g * _mask(p[q + "se_width"], slot.se_width)
            g = self._conv(g, w[f"{n}_se_expand/kernel"], 1) + w[f"{n}_se_expand/bias"]
            gate = tf.where(p[f"s{s}_act"] > 0, tf.nn.relu6(g + 3.0) / 6.0, tf.sigmoid(g))
            return y * gate
        return tf.cond(p[f"s{s}_se"] > 0, excite, lambda: y)

    def _conv(self, x, kernel, stride):
        pad = (kernel.shape[0] - 1) // 2
        if pad:
            x = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
        return tf.nn.conv2d(x, kernel, stride, "VALID")

    def _bn(self, y, name, space_mask):
        mean, variance = tf.nn.moments(y, [0, 1, 2])
        y = ((y - mean) * tf.math.rsqrt(variance + self.eps) * self.weights_by_name[f"{name}_bn/gamma"]
             + self.weights_by_name[f"{name}_bn/beta"])
        return y if space_mask is None else y * space_mask

    # --- into a zoo model -----------------------------------------------------------------------

    def extract(self, arch: Architecture, model) -> None:
        """Copy ``arch``'s slice of the shared weights into ``model`` (``space.build(arch)``);
        its BatchNorm statistics reset (``recalibrate`` measures them)."""
        kinds = {str(s): st.block for s, st in enumerate(arch.stages, 1)}
        values = []
        for weight in model.weights:
            layer, param = weight.name.split(":")[0].split("/")[-2:]
            if param in ("moving_mean", "moving_variance"):
                values.append(np.full(weight.shape, float(param == "moving_variance"), np.float32))
                continue
            stage = re.match(r"s(\d+)b\d+_", layer)
            key = f"{kinds[stage[1]]}/{layer}/{param}" if stage else f"{layer}/{param}"
            if key not in self.weights_by_name:
                raise InputError(f"{model.name}: weight {weight.name} has no counterpart in the "
                                 f"supernet (is it a candidate of the supernet's space?)")
            values.append(_slice(self.weights_by_name[key].numpy(), tuple(weight.shape)))
        model.set_weights(values)


def _mask(n, size: int):
    return tf.cast(tf.range(size) < n, tf.float32)


def _act(x, index):
    return tf.where(index > 0, x * tf.nn.relu6(x + 3.0) / 6.0, tf.nn.relu(x))


def _fit(x, channels: int):
    """``x`` with ``channels`` channels: the zero channels past its active ones cut or added."""
    have = x.shape[-1]
    if have == channels:
        return x
    if have > channels:
        return x[..., :channels]
    return tf.pad(x, [[0, 0], [0, 0], [0, 0], [0, channels - have]])


def _slice(value: np.ndarray, shape: tuple) -> np.ndarray:
    """The part of a shared weight a layer of ``shape`` takes: the centre of a larger kernel, the
    first channels."""
    if value.ndim == 4 and value.shape[0] != shape[0]:
        start = (value.shape[0] - shape[0]) // 2
        value = value[start:start + shape[0], start:start + shape[1]]
    out = value[tuple(slice(0, n) for n in shape)]
    if out.shape != shape:
        raise InputError(f"a weight of shape {shape} does not fit the supernet's {value.shape}")
    return out


def sandwich(net: Supernet, rng: random.Random) -> list[Architecture]:
    """One step's candidates: the largest, the smallest and ``RANDOM`` random ones."""
    return [net.largest(rng), net.smallest(rng), *(net.space.sample(rng) for _ in range(RANDOM))]


def train(net: Supernet, data, settings, epochs: int, folder: str, progress=print,
          seed: int = 0) -> None:
    """Train ``net`` ``epochs`` epochs on ``data.train`` (trainer.Data) with the optimizer and
    schedule of ``settings`` (train.*), by the sandwich rule; a checkpoint in ``folder`` after
    each epoch, from which a killed training resumes (one worker trains, the others wait)."""
    steps = data.steps_per_epoch
    optimizer = optim.from_settings(settings.replace(epochs=epochs).optimization, steps,
                                    settings.data.batch_size)
    variables = list(net.weights_by_name.values())
    epoch = tf.Variable(0, dtype=tf.int64)
    checkpoint = tf.train.Checkpoint(net=net, optimizer=optimizer, epoch=epoch)
    os.makedirs(folder, exist_ok=True)
    with files.locked(os.path.join(folder, "lock")):
        manager = tf.train.CheckpointManager(checkpoint, folder, max_to_keep=1)
        if manager.latest_checkpoint:
            checkpoint.restore(manager.latest_checkpoint).expect_partial()
        if int(epoch) >= epochs:
            return
        smoothing = settings.optimization.label_smoothing
        # Each candidate's gradients are added up (one traced pass, run once per candidate: the
        # graph holds every block type's branch, and tracing four candidates at once takes minutes).
        summed = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]

        @tf.function(reduce_retracing=True)
        def add_gradients(images, targets, plan):
            with tf.GradientTape() as tape:
                logits = net(images, plan, net.dropout)
                loss = tf.reduce_mean(keras.losses.categorical_crossentropy(
                    targets, logits, from_logits=True))
            for total, grad in zip(summed, tape.gradient(loss, variables)):
                if grad is not None:
                    total.assign_add(grad)
            return loss

        @tf.function
        def apply_gradients():
            optimizer.apply_gradients(zip([tf.identity(t) for t in summed], variables))
            for total in summed:
                total.assign(tf.zeros_like(total))

        def step(images, labels, plans) -> float:
            targets = labels * (1 - smoothing) + smoothing / labels.shape[-1]
            total = sum(float(add_gradients(images, targets, plan)) for plan in plans)
            apply_gradients()
            return total

        batches = iter(data.train)
        started = time.time()
        while int(epoch) < epochs:
            rng, losses = random.Random(seed * 1000 + int(epoch)), []
            for i in range(steps):
                images, labels = next(batches)
                plans = [{k: tf.constant(v, tf.int32) for k, v in net.plan(a).items()}
                         for a in sandwich(net, rng)]
                losses.append(step(images, labels, plans))
                if (i + 1) % PROGRESS_STEPS == 0:
                    progress(f"supernet: epoch {int(epoch) + 1}/{epochs}, step {i + 1}/{steps}, "
                             f"loss {np.mean(losses[-PROGRESS_STEPS:]):.3f} "
                             f"[{time.time() - started:.0f} s]")
            epoch.assign_add(1)
            manager.save()
            progress(f"supernet: epoch {int(epoch)}/{epochs} done, loss {np.mean(losses):.3f} "
                     f"[{time.time() - started:.0f} s]")


def recalibrate(model, batches) -> None:
    """Set every BatchNorm layer's moving statistics to their average over ``batches`` of images
    (``model`` in training mode; the momentum of the i-th batch i / (i + 1), restored after)."""
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in norms]
    try:
        for i, images in enumerate(batches):
            for layer in norms:
                layer.momentum = i / (i + 1)
            model(images, training=True)
    finally:
        for layer, momentum in zip(norms, momenta):
            layer.momentum = momentum
