"""Performance estimation: how good a candidate is, short of training it fully.

An estimator is ``estimate(model, images, labels) -> float`` (higher is better), registered in
``ESTIMATORS``:

- ``proxy``: a zero-cost proxy, used only to pre-filter: NASWOT (Mellor et al. 2021, "Neural
  Architecture Search without Training"): at initialization, the log-determinant of the kernel of
  the binary activation codes of a batch (how differently the network's ReLU-like units split the
  images); one forward pass.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from lite_tf.backend import keras, layers
from lite_tf.errors import InputError

Estimator = Callable[..., float]
RECTIFIERS = ("ReLU", "HardSwish")  # layers whose sign pattern NASWOT reads


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


ESTIMATORS: dict[str, Estimator] = {"proxy": naswot}


def get(name: str) -> Estimator:
    if name not in ESTIMATORS:
        raise InputError(f"unknown estimator {name!r}: choose one of {', '.join(ESTIMATORS)}")
    return ESTIMATORS[name]
