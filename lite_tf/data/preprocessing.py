"""Input scaling conventions: how [0, 255] RGB pixels become a model's input.

Pretrained weights expect the scaling they were trained with, so it is recorded with them
(``lite_tf.weights.pretrained``) and a run trains, calibrates and verifies with it:

- ``tf``: [-1, 1] (keras.applications ``mode='tf'``, TF-slim; lite_tf's default);
- ``torch``: ImageNet mean/std per channel on [0, 1] (torchvision, timm; keras ``mode='torch'``);
- ``bgr``: BGR channel order, [0, 255], nothing subtracted (megvii's ShuffleNet code).
"""

from __future__ import annotations

import dataclasses

from lite_tf.errors import InputError


@dataclasses.dataclass(frozen=True)
class Scaling:
    """``(pixel - mean) / std`` per channel, in [0, 255] units, after an optional RGB -> BGR."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    bgr: bool = False


_IMAGENET_MEAN, _IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
PRESETS = {
    "tf": Scaling((127.5,) * 3, (127.5,) * 3),
    "torch": Scaling(tuple(255 * m for m in _IMAGENET_MEAN), tuple(255 * s for s in _IMAGENET_STD)),
    "bgr": Scaling((0.0,) * 3, (1.0,) * 3, bgr=True),
}
DEFAULT = "tf"


def get(name: str | None) -> Scaling:
    """The preset ``name`` (None: the default, ``tf``); InputError naming the presets otherwise."""
    name = name or DEFAULT
    if name not in PRESETS:
        raise InputError(f"unknown preprocessing {name!r}; one of {', '.join(PRESETS)}")
    return PRESETS[name]


def apply(image, name: str | None = None):
    """Scale a float image (or batch) of [0, 255] RGB pixels, last axis channels."""
    scaling = get(name)
    if scaling.bgr:
        image = image[..., ::-1]
    return (image - list(scaling.mean)) / list(scaling.std)
