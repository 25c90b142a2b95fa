"""Compression stages as a registry: ``train.compress = '<name>'`` picks one.

A stage is one registered ``Stage`` object that knows its settings (a gin-configurable class such
as ``prune.Pruning``), how to check them, how to prepare the model the trainer fits (and the one
it saves), how a saved model of this stage is rebuilt, what it adds to the run's final figures
and summary, and what export must know (fake-quantized, sparse float weights). A stage module
anywhere in ``lite_tf/compression/`` registers itself with ``@register``: adding a stage is one
new module there, plus its config in ``configs/`` and its tests.

The stages: ``none`` (plain training), ``qat``, ``pqat``, ``cqat`` and ``pcqat``
(``lite_tf.compression.qat``), ``lowbit`` (``.lowbit``), ``prune`` (``.prune``), ``cluster``
(``.cluster``), ``channel_prune`` (``.channel_prune``), ``low_rank`` (``.low_rank``), ``distill``
(``.distill``).
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import pkgutil
from typing import Callable

from lite_tf import rundir, trust
from lite_tf.backend import keras
from lite_tf.compression.quantize import quantize_scope
from lite_tf.errors import InputError
from lite_tf.models import create_model


@dataclasses.dataclass
class Prepared:
    """What the trainer does in a stage: fit ``model`` with ``callbacks``, then save ``final()``
    (default: ``model``) and add ``report(saved model)`` to the final figures."""

    model: keras.Model
    callbacks: list = dataclasses.field(default_factory=list)
    final: Callable[[], keras.Model] | None = None
    report: Callable[[keras.Model], dict] = lambda model: {}
    model_overrides: dict | None = None  # the architecture changed: train.model_overrides now
    evaluate_first: bool = False  # worth measuring before training: metrics.json 'before_training'

    def final_model(self) -> keras.Model:
        return self.final() if self.final else self.model


@dataclasses.dataclass(frozen=True)
class Context:
    """What a stage may use when it prepares the model: the training steps, the run's model
    overrides and input scaling, and the training batches (for statistics)."""

    steps: int
    model_overrides: dict | None = None
    preprocessing: str | None = None
    train: object = None  # tf.data.Dataset of (images, one-hot labels)


class Stage:
    """A compression stage. Subclasses set the class attributes and override what they change."""

    name: str = ""  # the train.compress value
    label: str = ""  # in report method chains, e.g. 'prune -> PQAT'
    note: str = ""  # what export says about the model, e.g. 'quantization-aware trained'
    quantized: bool = False  # fake-quantized: saved as .h5, exported as trained
    sparse_float: bool = False  # float exports store the zeros sparse (XNNPACK sparse inference)
    settings: type | None = None  # gin-configurable settings, built when the stage runs
    parents: tuple[str, ...] = ()  # the stages a run of this one must start from (none: any)

    def check_parent(self, parent: str | None) -> None:
        """InputError, in one line, when this stage cannot start from a run of stage ``parent``
        (None: no parent run)."""
        if self.parents and parent not in self.parents:
            given = f"a {parent!r} run" if parent else "no run"
            raise InputError(f"train.compress = {self.name!r} starts from a "
                             f"{' or '.join(repr(p) for p in self.parents)} run "
                             f"(train.init_from), not from {given}")

    def options(self):
        """The stage's settings as gin binds them (None for a stage without any)."""
        return self.settings() if self.settings else None

    def check(self, options, precision: str) -> None:
        """InputError, in one line, for settings this stage cannot run with."""
        if options is not None and hasattr(options, "check"):
            options.check()

    def prepare(self, net: keras.Model, options, context: Context) -> Prepared:
        """The stage for ``net`` (already holding its start weights)."""
        return Prepared(net)

    def rebuild(self, model: keras.Model) -> keras.Model:
        """The architecture this stage saves, from the float zoo model (weights shared)."""
        return model

    def summary(self, final: dict) -> list[tuple[str, str]]:
        """Rows for the train command's summary, from the run's final figures."""
        return []


_REGISTRY: dict[str, Stage] = {}


def register(cls: type[Stage]) -> type[Stage]:
    """Class decorator: register one instance of a Stage subclass under its ``name``."""
    if cls.name in _REGISTRY:
        raise ValueError(f"stage {cls.name!r} is already registered")
    _REGISTRY[cls.name] = cls()
    return cls


@register
class Plain(Stage):
    """No compression: the model trains as it is."""

    name, label = "none", "float"


_discovered = False


def discover() -> None:
    """Import every module of lite_tf.compression once, so each registers its stages (and gin
    its settings, before a config binds them)."""
    global _discovered
    if not _discovered:
        package = importlib.import_module("lite_tf.compression")
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package.__name__}.{module.name}")
        _discovered = True


def names() -> list[str]:
    discover()
    return sorted(_REGISTRY)


def get(name: str | None) -> Stage:
    """The stage ``train.compress = name`` picks (None: ``none``); InputError naming the stages."""
    discover()
    name = name or "none"
    if name not in _REGISTRY:
        close = difflib.get_close_matches(str(name), list(_REGISTRY), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InputError(f"train.compress must be one of {', '.join(names())}{hint}, got {name!r}")
    return _REGISTRY[name]


def read_model(path: str, load=None):
    """``load(path)`` (default: a tf_keras ``.keras``/``.h5`` file, fake-quantized models
    included), or a one-line InputError when the file cannot be read."""
    if load is None:
        def load(p):
            trust.check_model_file(p)
            with quantize_scope():
                return keras.models.load_model(p, compile=False, safe_mode=True)
    try:
        return load(path)
    except InputError:
        raise
    except Exception as e:  # a truncated or foreign file: Keras and TensorFlow raise many kinds
        raise InputError(f"cannot read {path}: {str(e).strip().splitlines()[0][:200]}") from None


def build_model(run: rundir.Run, num_classes: int):
    """The run's float architecture, freshly initialized."""
    size = run["image_size"]
    return create_model(run["model"], num_classes=num_classes, input_shape=(size, size, 3),
                        **(run["model_overrides"] or {}))


def output_width(config: dict) -> int:
    """The output width of the functional model a Keras config describes: the units (or filters)
    of the layer nearest its output that has them, back through activations and TF-MOT wrappers."""
    found = {layer["name"]: layer for layer in config["config"]["layers"]}
    name = config["config"]["output_layers"][0][0]
    while True:
        layer = found[name]
        for settings in (layer["config"], layer["config"].get("layer", {}).get("config", {})):
            for key in ("units", "filters"):
                if key in settings:
                    return settings[key]
        name = layer["inbound_nodes"][0][0][0]


def load_model(run: rundir.Run):
    """The run's final model, rebuilt from the zoo in float32 as its stage saved it (e.g.
    fake-quantized) with its trained weights, so mixed-precision runs give float32 models. Only
    the weights are read from the file (deserializing a QAT model whole first took 7 of its 19 s)."""
    path = run.model_path
    trust.check_model_file(path)
    try:
        classes = output_width(trust.model_config(path))
    except (KeyError, IndexError, TypeError) as e:
        raise InputError(f"cannot read {path}: no functional model config ({e})") from None
    model = get(run.stage).rebuild(build_model(run, classes))

    def weights(p):
        with quantize_scope():
            model.load_weights(p)
        return model
    return read_model(path, weights)
