"""Performance estimation: how good a candidate is, short of training it fully.

An estimator is made once per search from a ``Context`` (the search's ``train.*`` settings: the
data, the optimizer; its epochs, space, model overrides and folder) and then scores candidates:
``ESTIMATORS[name](context)(model, arch) -> float``, higher is better. Registered:

- ``train``: short training: the candidate trained from scratch for ``epochs`` as ``train.*``
  says (its learning-rate schedule fitted to those epochs, the same seed for every candidate),
  scored by its top-1 on ``train.eval_split``. Given ``report``, it scores the candidate after
  every epoch and calls ``report(epoch, top1)``, which may stop it by raising (the study's
  pruner: lite_tf/search/strategy.py).
- ``supernet``: a weight-sharing supernet of the space (lite_tf/search/supernet.py) trained once,
  for ``epochs``, in the search's folder (a rerun or a second worker reuses it); a candidate's
  weights are sliced out of it, its BatchNorm statistics recomputed, and it is scored by its top-1
  on ``train.eval_split``: seconds per candidate instead of an epoch of training.
- ``proxy``: a zero-cost proxy, for pre-filtering: NASWOT (Mellor et al. 2021, "Neural
  Architecture Search without Training"): at initialization, the log-determinant of the kernel of
  the binary activation codes of a batch of training images (how differently the network's
  ReLU-like units split them); one forward pass.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from typing import Callable

import numpy as np

from lite_tf.backend import keras, layers
from lite_tf.errors import InputError
from lite_tf.models.searched import Architecture
from lite_tf.search import supernet as shared
from lite_tf.search.space import Space
from lite_tf.training import trainer
from lite_tf.training.settings import Settings

# (candidate as built, its architecture[, report(epoch, score) after each epoch]) -> score
Estimator = Callable[..., float]
Report = Callable[[int, float], None]
RECTIFIERS = ("ReLU", "HardSwish")  # layers whose sign pattern NASWOT reads
PROXY_BATCH = 64


def _rectified(model) -> list:
    found = []
    for layer in model.layers:
        name = type(layer).__name__
        if name in RECTIFIERS or (isinstance(layer, layers.Activation)
                                  and layer.get_config()["activation"] in ("relu", "relu6")):
            found.append(layer.output)
    return found


def naswot(model, images, labels=None) -> float:
    """NASWOT score of ``model`` as built (untrained) on ``images`` (a batch of 16-128)."""
    outputs = _rectified(model)
    if not outputs:
        raise InputError(f"{model.name}: no ReLU or hard-swish layer for the NASWOT proxy")
    codes = keras.Model(model.input, outputs)(np.asarray(images, np.float32), training=False)
    codes = np.concatenate([np.reshape(np.asarray(c) > 0, (len(images), -1)) for c in
                            (codes if isinstance(codes, list) else [codes])], axis=1)
    c = codes.astype(np.float64)
    kernel = c @ c.T + (1 - c) @ (1 - c).T  # agreements: units on the same side for both images
    sign, logdet = np.linalg.slogdet(kernel)
    return float(logdet) if sign > 0 else float("-inf")


@dataclasses.dataclass(frozen=True)
class Context:
    """What an estimator is made from: the search's ``train.*`` settings, its ``search.epochs``,
    space and candidates' ``create_model`` overrides, a folder of its own and where progress goes."""

    settings: Settings
    epochs: int
    space: Space = Space()
    overrides: dict | None = None
    folder: str | None = None
    progress: Callable[[str], None] = print


class _Data:
    """The search's data at each candidate's input resolution, made once per resolution."""

    def __init__(self, settings: Settings):
        self.settings, self.made = settings, {}

    def __call__(self, resolution: int) -> trainer.Data:
        if resolution not in self.made:
            self.made[resolution] = trainer.make_data(
                self.settings.replace(image_size=resolution), workers=1)
        return self.made[resolution]


def short_training(context: Context) -> Estimator:
    """Each candidate trained ``epochs`` epochs from scratch; its eval top-1."""
    settings = context.settings.replace(epochs=context.epochs)
    data = _Data(settings)

    def estimate(model, arch, report: Report | None = None) -> float:
        d = data(model.input_shape[1])
        keras.utils.set_random_seed(settings.distribution.seed)
        trainer.compile_model(model, settings, d.steps_per_epoch, d.classes)
        if report is None:
            model.fit(d.train, epochs=context.epochs, steps_per_epoch=d.steps_per_epoch, verbose=0)
            return float(model.evaluate(d.eval, verbose=0, return_dict=True)["top1"])
        scored = keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: report(epoch + 1, float(logs["val_top1"])))
        history = model.fit(d.train, epochs=context.epochs, steps_per_epoch=d.steps_per_epoch,
                            validation_data=d.eval, callbacks=[scored], verbose=0)
        return float(history.history["val_top1"][-1])
    return estimate


def supernet(context: Context) -> Estimator:
    """The supernet of the space, trained for ``epochs`` on first use (in ``folder``/supernet);
    each candidate's slice of it, recalibrated on the same training batches, scored by its eval
    top-1. A space or overrides it cannot hold: one line now, before the search writes a file."""
    shared.check(context.space, context.overrides)
    settings, data = context.settings, _Data(context.settings)
    made: dict = {}

    def trained(d: trainer.Data) -> shared.Supernet:
        if not made:
            net = shared.Supernet(context.space, d.classes, context.overrides,
                                  seed=settings.distribution.seed)
            shared.train(net, d, settings, context.epochs,
                         os.path.join(context.folder or ".", "supernet"), context.progress,
                         settings.distribution.seed)
            made["net"] = net
            made["batches"] = [images for images, _ in itertools.islice(d.train, shared.CALIBRATION)]
        return made["net"]

    def estimate(model, arch) -> float:
        d = data(arch.resolution)
        trained(d).extract(arch, model)
        shared.recalibrate(model, made["batches"])
        trainer.compile_model(model, settings, d.steps_per_epoch, d.classes)
        return float(model.evaluate(d.eval, verbose=0, return_dict=True)["top1"])
    return estimate


def proxy(context: Context) -> Estimator:
    """NASWOT on one batch of training images (``epochs`` unused: nothing trains)."""
    data = _Data(context.settings.replace(batch_size=PROXY_BATCH))

    def estimate(model, arch) -> float:
        images, _ = next(iter(data(model.input_shape[1]).train))
        keras.utils.set_random_seed(context.settings.distribution.seed)
        return naswot(model, images.numpy())
    return estimate


ESTIMATORS: dict[str, Callable[[Context], Estimator]] = {"train": short_training,
                                                         "supernet": supernet, "proxy": proxy}


def get(name: str) -> Callable[[Context], Estimator]:
    if name not in ESTIMATORS:
        raise InputError(f"unknown estimator {name!r}: choose one of {', '.join(ESTIMATORS)}")
    return ESTIMATORS[name]
