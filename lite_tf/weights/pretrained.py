"""ImageNet weights for zoo models: where each comes from, the converted file and its cache.

``create_model(name, weights='imagenet')`` loads ``<cache>/weights/<name>.npz`` (cache:
``$LITE_TF_CACHE``, else ``~/.cache/lite_tf``). On a cache miss it downloads the reference
checkpoint from its official URL (torchvision's files are checked against the SHA-256 prefix in
their names), converts it and caches it. Where no direct download is published (the official
MobileNeXt code, megvii's ShuffleNetV1 on OneDrive), or offline, it fails in one line naming the
source and the command that converts a checkpoint by hand: ``python -m lite_tf.weights import
MODEL CHECKPOINT``.

A converted file is an ``.npz`` of the zoo model's weights (``<layer>/<index>``) plus ``__meta__``:
the source, the checkpoint's SHA-256, the input scaling the weights expect
(``lite_tf.data.preprocessing``) and the model settings they need (torchvision's MobileNetV2 has
PyTorch padding and BatchNorm epsilon).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import re
import zipfile
from typing import Callable

import numpy as np

from lite_tf import files, network
from lite_tf.backend import keras
from lite_tf.errors import InputError
from lite_tf.weights import pytorch_names
from lite_tf.weights.keras_applications import load_keras_applications, reference_model
from lite_tf.weights.torch_state import TORCH_EXTRA, convert, read_checkpoint
from lite_tf.weights.transfer import assign_weights

FORMAT = "lite_tf.weights/1"
CACHE_ENV = "LITE_TF_CACHE"
PROBE_TIMEOUT_SECONDS = 3
IMPORT = "python -m lite_tf.weights import {model} CHECKPOINT"


@dataclasses.dataclass(frozen=True)
class Source:
    """A reference implementation whose checkpoints convert into a zoo family."""

    name: str
    page: str
    preprocessing: str | Callable  # a lite_tf.data.preprocessing preset, or a function of the entry
    names: Callable | None = None  # zoo layer -> state_dict prefix (None: keras.applications)
    # Zoo settings the weights need: a dict, or a function of the registry entry.
    overrides: dict | Callable = dataclasses.field(default_factory=dict)

    def settings(self, entry) -> dict:
        return self.overrides(entry) if callable(self.overrides) else dict(self.overrides)

    def scaling(self, entry) -> str:
        return self.preprocessing(entry) if callable(self.preprocessing) else self.preprocessing


KERAS = Source("keras.applications", "https://keras.io/api/applications/mobilenet/", "tf")
_TV = "https://pytorch.org/vision/stable/models.html"
_TIMM = "https://huggingface.co/timm"
# A state_dict key only timm's layouts have: such a checkpoint is read as timm's.
TIMM_KEY = "conv_stem.weight"
SOURCES = {  # family: {checkpoint kind ('keras' .h5, 'torch' / 'timm' .pth or .safetensors): source}
    "mobilenet_v1": {"keras": KERAS},
    "mobilenet_v2": {"keras": KERAS,
                     "torch": Source("torchvision", _TV, "torch", pytorch_names.torchvision_mobilenet_v2,
                                     {"padding": "symmetric", "bn_epsilon": 1e-5})},
    "shufflenet_v2": {"torch": Source("torchvision", _TV, "torch",
                                      pytorch_names.torchvision_shufflenet_v2)},
    "squeezenet": {"torch": Source("torchvision", _TV, "torch", pytorch_names.torchvision_squeezenet)},
    "mobilenet_v3": {
        "keras": Source("keras.applications", "https://keras.io/api/applications/mobilenet/", "tf",
                        overrides={"padding": "tf"}),
        "torch": Source("torchvision", _TV, "torch", pytorch_names.torchvision_mobilenet_v3),
        # timm's tf_ ports (the minimalistic models) keep TF padding, epsilon and [-1, 1] inputs.
        "timm": Source("timm", _TIMM, lambda e: "tf" if e.settings.get("minimalistic") else "torch",
                       pytorch_names.timm_mobilenet_v3,
                       lambda e: {} if e.settings.get("minimalistic") else {"bn_epsilon": 1e-5})},
    "efficientnet_lite": {"timm": Source("timm", _TIMM, "tf", pytorch_names.timm_efficientnet)},
    "mobilenet_v4": {"timm": Source("timm", _TIMM, "torch", pytorch_names.timm_mobilenet_v4)},
    "ghostnet": {"timm": Source("timm", _TIMM, "torch", pytorch_names.timm_ghostnet)},
    "mnasnet": {"torch": Source("torchvision", _TV, "torch", pytorch_names.torchvision_mnasnet),
                "timm": Source("timm", _TIMM, "torch", pytorch_names.timm_efficientnet)},
    "mobilenext": {"torch": Source("official MobileNeXt code (mnext.py)",
                                   "https://github.com/zhoudaquan/rethinking_bottleneck_design",
                                   "torch", pytorch_names.official_mobilenext)},
    "shufflenet_v1": {"torch": Source("megvii ShuffleNetV1 (network.py)",
                                      "https://1drv.ms/f/s!AgaP37NGYuEXhRfQxHRseR7eSxXo",
                                      "bgr", pytorch_names.megvii_shufflenet_v1)},
}

_KERAS = "https://storage.googleapis.com/tensorflow/keras-applications/"
_TORCH = "https://download.pytorch.org/models/"
_TIMM_RELEASES = "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/"
# model: direct download of its ImageNet checkpoint, or None where none is published.
IMAGENET = {
    **{f"mobilenet_v1_{w}": f"{_KERAS}mobilenet/mobilenet_{t}_224_tf.h5"
       for w, t in (("025", "2_5"), ("050", "5_0"), ("075", "7_5"), ("100", "1_0"))},
    **{f"mobilenet_v2_{w}": f"{_KERAS}mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_"
                            f"{int(w) / 100}_224.h5" for w in ("035", "050", "075", "100", "140")},
    "shufflenet_v2_050": _TORCH + "shufflenetv2_x0.5-f707e7126e.pth",
    "shufflenet_v2_100": _TORCH + "shufflenetv2_x1-5666bf0f80.pth",
    "shufflenet_v2_150": _TORCH + "shufflenetv2_x1_5-3c479a10.pth",
    "shufflenet_v2_200": _TORCH + "shufflenetv2_x2_0-8be3c8ee.pth",
    "squeezenet_10": _TORCH + "squeezenet1_0-b66bff10.pth",
    "squeezenet_11": _TORCH + "squeezenet1_1-b8a52dc0.pth",
    "mnasnet_050": _TORCH + "mnasnet0.5_top1_67.823-3ffadce67e.pth",
    "mnasnet_100": _TORCH + "mnasnet1.0_top1_73.512-f206786ef8.pth",
    **{f"mobilenet_v3_{size}_{w}": f"{_KERAS}mobilenet_v3/weights_mobilenet_v3_{size}_224_{alpha}_float.h5"
       for size in ("large", "small") for w, alpha in (("075", "0.75"), ("100", "1.0"))},
    **{f"mobilenet_v3_{size}_minimal_100": f"{_KERAS}mobilenet_v3/weights_mobilenet_v3_{size}_"
                                           f"minimalistic_224_1.0_float.h5" for size in ("large", "small")},
    # timm's releases of its tf_efficientnet_lite ports (names carry a SHA-256 prefix, as torch.hub's)
    **{f"efficientnet_lite{i}": f"{_TIMM_RELEASES}tf_efficientnet_lite{i}-{h}.pth"
       for i, h in enumerate(("0aa007d2", "bde8b488", "dcccb7df", "b733e338", "741542c3"))},
    "ghostnet_100": f"{_TIMM}/ghostnet_100.in1k/resolve/main/model.safetensors",
    **{f"mobilenet_v4_conv_{size}": f"{_TIMM}/mobilenetv4_conv_{size}.{tag}/resolve/main/model.safetensors"
       for size, tag in (("small", "e2400_r224_in1k"), ("medium", "e500_r256_in1k"),
                         ("large", "e600_r384_in1k"))},
    **{f"mobilenext_{w}": None for w in ("035", "050", "075", "100", "140")},
    **{f"shufflenet_v1_g{g}_{w}": None for g in (3, 8) for w in ("050", "100", "150", "200")},
}


def cache_dir() -> str:
    return os.path.expanduser(os.environ.get(CACHE_ENV) or os.path.join("~", ".cache", "lite_tf"))


def cached_file(model: str) -> str:
    """Where ``model``'s converted ImageNet weights live in the cache."""
    return os.path.join(cache_dir(), "weights", f"{model}.npz")


def imagenet_source(entry) -> Source:
    """The source of the ImageNet weights of ``entry`` (a registered model); InputError for models
    without any."""
    if entry.name not in IMAGENET:
        raise InputError(f"no ImageNet weights for {entry.name}; models with them: "
                         f"{', '.join(IMAGENET)}")
    sources = SOURCES[entry.family]
    return sources.get("keras") or sources.get("torch") or sources["timm"]


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """A converted weights file and its metadata (see the module docstring)."""

    path: str
    meta: dict

    @property
    def preprocessing(self) -> str:
        return self.meta["preprocessing"]

    @property
    def overrides(self) -> dict:
        """The zoo settings the weights need."""
        return self.meta["overrides"]


def published_sha256(url: str) -> str | None:
    """The SHA-256 prefix in a torchvision file name (``name-<hex>.pth``), as torch.hub checks it."""
    match = re.search(r"-([a-f0-9]{6,})\.", os.path.basename(url))
    return match.group(1) if match else None


def resolve(entry, weights: str, build: Callable) -> Checkpoint:
    """The converted weights for ``create_model(entry.name, weights=weights)``: ``'imagenet'``
    (the cache, else downloaded and converted into a model from ``build(**overrides)``) or the
    path of a converted ``.npz``; InputError if they are another model's."""
    model = entry.name
    if weights != "imagenet":
        if not os.path.isfile(weights):
            raise InputError(f"weights must be None, 'imagenet' or a converted .npz file; "
                             f"no file {weights!r}")
        path = weights
    else:
        path = cached_file(model)
        if not os.path.isfile(path):
            source, url = imagenet_source(entry), IMAGENET[model]
            command = IMPORT.format(model=model)
            if url is None:
                raise InputError(f"no ImageNet weights for {model} in {path}: the {source.name} "
                                 f"publishes no direct download ({source.page}); convert a "
                                 f"checkpoint with {command}")
            if not network.online(url, PROBE_TIMEOUT_SECONDS):
                raise InputError(f"no ImageNet weights for {model} in {path} and {url} cannot be "
                                 f"reached (offline): download it elsewhere and run {command}")
            import_checkpoint(entry, _download(model, url), build, path)
    checkpoint = Checkpoint(path, read_meta(path))
    if checkpoint.meta["model"] != model:
        raise InputError(f"{path} holds the weights of {checkpoint.meta['model']}, not {model}")
    return checkpoint


def _download(model: str, url: str) -> str:
    """The downloaded checkpoint's path (Keras or torch.hub, each with its progress bar and cache)."""
    if url.endswith(".h5"):
        return keras.utils.get_file(os.path.basename(url), url, cache_subdir="models")
    try:
        import torch.hub  # optional and heavy: only for PyTorch checkpoints
    except ImportError:
        raise InputError(f"the ImageNet weights of {model} are a PyTorch checkpoint, which needs "
                         f"PyTorch to read: {TORCH_EXTRA}") from None
    folder = os.path.join(cache_dir(), "downloads")
    os.makedirs(folder, exist_ok=True)
    name = os.path.basename(url)  # the hub's files are all model.safetensors: prefixed
    path = os.path.join(folder, name if published_sha256(url) else f"{model}_{name}")
    if not os.path.exists(path):
        torch.hub.download_url_to_file(url, path, hash_prefix=published_sha256(url))
    return path


def convert_checkpoint(entry, checkpoint: str, build: Callable):
    """``(zoo model with the checkpoint's weights, metadata)``: ``build(**overrides)`` makes the
    zoo model ``entry`` (a registered model) with fresh weights; the checkpoint's kind (Keras .h5
    or a PyTorch file) picks the source among the family's."""
    model, family = entry.name, entry.family
    if not os.path.isfile(checkpoint):
        raise InputError(f"no checkpoint at {checkpoint}")
    kind = "keras" if checkpoint.endswith((".h5", ".keras")) else "torch"
    sources = SOURCES.get(family, {})
    if kind not in sources and not (kind == "torch" and "timm" in sources):
        known = ", ".join(f"{f} ({' or '.join(sources)})" for f, sources in SOURCES.items())
        raise InputError(f"no converter from a {kind} checkpoint to {family}; converters: {known}")
    state = None if kind == "keras" else read_checkpoint(checkpoint)
    if state is not None and "timm" in sources and (TIMM_KEY in state or "torch" not in sources):
        kind = "timm"
    source = sources[kind]
    overrides = source.settings(entry)
    net = build(classifier_activation=None, **overrides)
    if state is None:
        load_keras_applications(reference_model(entry, checkpoint), net)
    else:
        assign_weights(net, convert(net, state, source.names(net), f"{checkpoint} ({source.name})"))
    with open(checkpoint, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    meta = {"format": FORMAT, "model": model, "source": source.name,
            "checkpoint": os.path.basename(checkpoint), "sha256": digest,
            "preprocessing": source.scaling(entry), "overrides": overrides,
            "num_classes": int(net.output_shape[-1])}
    return net, meta


def import_checkpoint(entry, checkpoint: str, build: Callable, out: str | None = None):
    """Convert ``checkpoint`` into the weights file of ``entry`` (a registered model) at ``out``
    (default: the cache); returns ``(path, zoo model, metadata)``."""
    net, meta = convert_checkpoint(entry, checkpoint, build)
    out = out or cached_file(entry.name)
    write(out, net, meta)
    return out, net, meta


def write(path: str, model, meta: dict) -> None:
    """The converted file, written whole or not at all."""
    arrays = {f"{layer.name}/{i}": w for layer in model.layers
              for i, w in enumerate(layer.get_weights())}
    buffer = io.BytesIO()
    np.savez(buffer, __meta__=np.array(json.dumps(meta)), **arrays)
    files.writable_dir(os.path.dirname(os.path.abspath(path)), "weights folder")
    files.write_atomic(path, buffer.getvalue())


def _load(path: str, take):
    """``take(npz, metadata)`` on a converted file (np.load reads only the members it is asked for)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["__meta__"]))
            if meta.get("format") != FORMAT:
                raise ValueError(f"format {meta.get('format')!r}")
            return take(f, meta)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, NotImplementedError,
            RuntimeError) as e:  # a damaged file: zipfile raises the last two for bad header flags
        raise InputError(f"{path} is not a converted weights file: "
                         f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None


def read_meta(path: str) -> dict:
    """The metadata of a converted file, without reading its tensors."""
    return _load(path, lambda f, meta: meta)


def read(path: str) -> tuple[dict[str, list[np.ndarray]], dict]:
    """``({layer: weights}, metadata)`` of a converted file."""
    def take(f, meta):
        tensors: dict[str, list] = {}
        for key in sorted((k for k in f.files if k != "__meta__"),
                          key=lambda k: (k.rsplit("/", 1)[0], int(k.rsplit("/", 1)[1]))):
            tensors.setdefault(key.rsplit("/", 1)[0], []).append(f[key])
        return tensors, meta

    return _load(path, take)


def preprocessing(entry, weights: str | None) -> str | None:
    """The input scaling ``create_model(entry.name, weights=weights)``'s weights expect, without
    fetching them (None: no weights)."""
    if weights is None:
        return None
    if weights == "imagenet" and not os.path.isfile(cached_file(entry.name)):
        return imagenet_source(entry).scaling(entry)
    return read_meta(cached_file(entry.name) if weights == "imagenet" else weights)["preprocessing"]


def load_into(model, path: str) -> None:
    """Load a converted file into ``model``: every layer must match, except the classifier, which
    keeps its fresh weights when the model has another number of classes or no top."""
    tensors = read(path)[0]
    classifier = [w.shape for w in tensors.get("logits", [])]
    ours = next(([tuple(w.shape) for w in layer.weights] for layer in model.layers
                 if layer.name == "logits"), None)
    assign_weights(model, tensors, skip=() if ours == classifier else ("logits",))
