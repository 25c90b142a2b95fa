"""Model registry: ``create_model(name, ...)`` and ``list_models()``."""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any, Callable

from lite_tf.errors import InputError
from lite_tf.models.builder import build_model, total_stride, with_channels, without_early_strides
from lite_tf.models.factors import with_factors
from lite_tf.weights import pretrained

# Overrides every model accepts (besides num_classes and input_shape).
COMMON_OVERRIDES = ("width", "dropout", "include_top", "pooling", "bn_momentum", "bn_epsilon",
                    "padding", "classifier_activation", "channels", "low_rank", "drop_strides")


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """A registered model: a family's ``features`` function and the settings of this variant."""

    name: str
    family: str
    features: Callable
    settings: dict[str, Any]
    family_options: tuple[str, ...] = ()
    zoo: bool = True  # False: buildable by name, left out of list_models (the search's candidates)

    @property
    def default_input_shape(self) -> tuple[int, int, int]:
        return tuple(self.settings["input_shape"])


_REGISTRY: dict[str, ModelEntry] = {}


def register(name: str, family: str, features: Callable, *, family_options=(), zoo=True,
             **settings):
    """Register variant ``name``; ``settings`` are build_model keywords (width, head, defaults...).
    ``zoo=False``: not a paper's model (``searched``); ``list_models`` and ``list_families``
    leave it out."""
    if name in _REGISTRY:
        raise ValueError(f"model {name!r} is already registered")
    settings.setdefault("input_shape", (224, 224, 3))
    settings.setdefault("num_classes", 1000)
    _REGISTRY[name] = ModelEntry(name, family, features, settings, tuple(family_options), zoo)


def list_models(family: str | None = None) -> list[str]:
    """The zoo's model names (of one ``family`` if given), sorted."""
    return sorted(n for n, e in _REGISTRY.items() if e.zoo and family in (None, e.family))


def list_families() -> list[str]:
    return sorted({e.family for e in _REGISTRY.values() if e.zoo})


def get_entry(name: str) -> ModelEntry:
    if name not in _REGISTRY:
        close = closest(name, list(_REGISTRY))
        hint = f"closest: {', '.join(close)}" if close else f"known: {', '.join(list_models())}"
        raise InputError(f"unknown model {name!r}; {hint}")
    return _REGISTRY[name]


def closest(query: str, names: list[str], n: int = 5) -> list[str]:
    """Up to ``n`` names like ``query``: longest common prefix (ignoring underscores) first,
    then by similarity, so 'mobilenetv2' suggests the mobilenet_v2 models."""
    def prefix(name):
        a, b = query.replace("_", ""), name.replace("_", "")
        return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))

    scored = [(difflib.SequenceMatcher(None, query, name).ratio(), name) for name in names]
    ranked = sorted(scored, key=lambda t: (-prefix(t[1]), -t[0], t[1]))
    return [name for ratio, name in ranked if ratio >= 0.5][:n]


_DEFAULT = object()


def create_model(name: str, num_classes=_DEFAULT, input_shape=_DEFAULT, weights=None, **overrides):
    """Build registered model ``name`` as a functional tf_keras model.

    ``num_classes`` and ``input_shape`` default to the model's own (1000 and (224, 224, 3); the
    MobileFaceNet default is its 128-d embedding at 112x112x3). Overrides every model accepts:
    width (any float; replaces the width in the name), dropout, include_top, pooling,
    bn_momentum, bn_epsilon, padding ('tf' or 'symmetric'), classifier_activation, channels
    ({conv layer: filters}, a channel-pruned architecture, see lite_tf.compression.channel_prune),
    low_rank ({layer: {'method': ..., 'rank': ...}}, a factorized architecture, see
    lite_tf.models.factors),
    drop_strides (N: the first N downsamplings at stride 1, for small inputs such as 28x28 or
    32x32, as CIFAR variants do; total stride 32 / 2**N); families add their own (MobileNeXt:
    identity_multiplier, se).

    ``weights``: None (fresh), ``'imagenet'`` (the reference implementation's ImageNet weights,
    from the cache or downloaded and converted; see lite_tf.weights.pretrained), the path of a
    converted ``.npz``, or what ``pretrained.resolve`` returned for them. The classifier keeps
    fresh weights when ``num_classes`` differs from the checkpoint's; settings the weights need
    (torchvision's PyTorch padding) apply unless given.
    """
    entry = get_entry(name)
    checkpoint = None
    if weights is not None:
        checkpoint = (weights if isinstance(weights, pretrained.Checkpoint)
                      else pretrained.resolve(entry, weights, fresh_builder(name)))
        overrides = {**checkpoint.overrides, **overrides}
    allowed = set(COMMON_OVERRIDES) | set(entry.family_options)
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise InputError(f"{name} does not accept {', '.join(unknown)}; "
                         f"overrides: {', '.join(sorted(allowed))}")
    channels = overrides.pop("channels", None)
    low_rank = overrides.pop("low_rank", None)
    drop_strides = overrides.pop("drop_strides", 0)
    if not (isinstance(drop_strides, int) and 0 <= drop_strides <= 5):
        raise InputError(f"drop_strides is a number of downsamplings 0-5, got {drop_strides!r}")
    settings = dict(entry.settings, **overrides)
    if num_classes is not _DEFAULT:
        settings["num_classes"] = num_classes
    if input_shape is not _DEFAULT:
        settings["input_shape"] = tuple(input_shape)
    model = _build_checked(entry, settings, drop_strides)
    if low_rank:  # before channels: channel pruning may thin the factors' layers too
        model = with_factors(model, low_rank)
    if channels:
        model = with_channels(model, channels)
    if checkpoint:
        pretrained.load_into(model, checkpoint.path)
    return model


def fresh_builder(name: str) -> Callable:
    """``build(**overrides)``: model ``name`` with fresh weights, for the converters of
    ``lite_tf.weights`` (which build zoo models but do not import the zoo)."""
    return lambda **overrides: create_model(name, **overrides)


def _build(entry: ModelEntry, settings: dict, drop_strides: int = 0):
    """build_model, then ``without_early_strides`` if ``drop_strides``."""
    if not drop_strides:
        return build_model(entry.name, entry.features, **settings)
    shape = settings["input_shape"]
    scale = 2 ** drop_strides
    larger = tuple(d * scale if d else d for d in shape[:2]) + tuple(shape[2:])
    model = build_model(entry.name, entry.features, **dict(settings, input_shape=larger))
    return without_early_strides(model, drop_strides, shape)


def _build_checked(entry: ModelEntry, settings: dict, drop_strides: int = 0):
    """_build, with a one-line InputError when the input is smaller than the model needs:
    smaller than its total stride (its last stage would see only padding), or so small that a
    VALID window (SqueezeNet's pools) does not fit."""
    shape = settings["input_shape"]
    size, default = min((d for d in shape[:2] if d), default=None), entry.default_input_shape[0]
    needed = None  # the total stride (the same at every input size), from the model if it builds
    try:
        model = _build(entry, settings, drop_strides)
        needed = total_stride(model)
        if size is None or size >= needed:
            return model
    except ValueError:
        if size is None or size >= default:
            raise

    def build_at(s):
        return _build(entry, dict(settings, input_shape=(s, s, shape[2])), drop_strides)

    def builds(s):
        try:
            build_at(s)
        except ValueError:
            return False
        return True

    if needed is None:
        needed = total_stride(build_at(default))
    low, high = max(size + 1, needed), default
    if not builds(low):  # a VALID window does not fit yet: binary search for the smallest size
        low += 1
        while low < high:
            mid = (low + high) // 2
            low, high = (low, mid) if builds(mid) else (mid + 1, high)
    raise InputError(f"input size {size}x{size} is too small for {entry.name}: it needs at "
                     f"least {low}x{low}")
