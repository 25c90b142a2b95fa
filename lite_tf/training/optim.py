"""Optimizers and learning-rate schedules (``train.optimizer``, ``train.schedule`` and their settings)."""

from __future__ import annotations

import math

from lite_tf.backend import keras, tf
from lite_tf.errors import InputError

OPTIMIZERS = ("sgd", "rmsprop", "adamw")
SCHEDULES = ("cosine", "linear", "step", "constant")


@keras.utils.register_keras_serializable(package="lite_tf")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup from 0 over ``warmup_steps``, then cosine or linear decay to 0 (ShuffleNet,
    SqueezeNet), step decay (x ``decay_rate`` every ``decay_steps``; MobileNet: 0.98 per epoch),
    or constant."""

    def __init__(self, peak, total_steps, warmup_steps=0, kind="cosine", decay_steps=1,
                 decay_rate=1.0):
        if kind not in SCHEDULES:
            raise InputError(f"schedule must be one of {SCHEDULES}, got {kind!r}")
        self.peak, self.total_steps, self.warmup_steps = float(peak), int(total_steps), int(warmup_steps)
        self.kind, self.decay_steps, self.decay_rate = kind, int(decay_steps), float(decay_rate)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warm = float(max(self.warmup_steps, 1))
        after = tf.maximum(step - self.warmup_steps, 0.0)
        span = float(max(self.total_steps - self.warmup_steps, 1))
        if self.kind == "cosine":
            lr = 0.5 * self.peak * (1.0 + tf.cos(math.pi * tf.minimum(after / span, 1.0)))
        elif self.kind == "linear":
            lr = self.peak * (1.0 - tf.minimum(after / span, 1.0))
        elif self.kind == "step":
            lr = self.peak * self.decay_rate ** tf.floor(after / float(max(self.decay_steps, 1)))
        else:
            lr = tf.constant(self.peak)
        return tf.where(step < self.warmup_steps, self.peak * (step + 1.0) / warm, lr)

    def get_config(self):
        return dict(peak=self.peak, total_steps=self.total_steps, warmup_steps=self.warmup_steps,
                    kind=self.kind, decay_steps=self.decay_steps, decay_rate=self.decay_rate)


def make_optimizer(name, learning_rate, *, momentum=0.9, nesterov=False, rmsprop_rho=0.9,
                   epsilon=None, weight_decay=0.0, clipnorm=None, ema_momentum=None):
    """SGD (momentum / Nesterov), RMSProp (the MobileNet papers' recipe) or AdamW, with decoupled
    weight decay (BatchNorm and biases excluded), optional gradient clipping and weight EMA."""
    if name not in OPTIMIZERS:
        raise InputError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")
    common = dict(learning_rate=learning_rate, weight_decay=weight_decay or None, clipnorm=clipnorm,
                  use_ema=ema_momentum is not None, ema_momentum=ema_momentum or 0.99)
    if name == "sgd":
        opt = keras.optimizers.SGD(momentum=momentum, nesterov=nesterov, **common)
    elif name == "rmsprop":
        opt = keras.optimizers.RMSprop(rho=rmsprop_rho, momentum=momentum,
                                       epsilon=epsilon or 1e-3, **common)
    else:
        opt = keras.optimizers.AdamW(epsilon=epsilon or 1e-7, **dict(common, weight_decay=weight_decay))
    if weight_decay:
        opt.exclude_from_weight_decay(var_names=["_bn/", "bias", "gamma", "beta"])
    return opt


def from_settings(settings, steps_per_epoch: int, batch_size: int):
    """The optimizer and learning-rate schedule of ``settings`` (``training.settings.Optimization``)
    for ``steps_per_epoch`` steps of global ``batch_size``."""
    s = settings
    peak = s.learning_rate * (batch_size / s.base_batch_size if s.base_batch_size else 1.0)
    lr = WarmupSchedule(peak, s.epochs * steps_per_epoch, round(s.warmup_epochs * steps_per_epoch),
                        s.schedule, round(s.decay_epochs * steps_per_epoch), s.decay_rate)
    return make_optimizer(s.optimizer, lr, momentum=s.momentum, nesterov=s.nesterov,
                          rmsprop_rho=s.rmsprop_rho, epsilon=s.epsilon,
                          weight_decay=s.weight_decay, clipnorm=s.clipnorm,
                          ema_momentum=s.ema_momentum)
