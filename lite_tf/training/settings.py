"""Typed training settings: every ``train.*`` gin binding, declared once, by section.

Each section is a frozen dataclass whose fields carry their type, default, one line of help and
the range of values they accept (``lite_tf.checks``), checked when the section is made: a bad value
is one line naming the binding, before any work. The gin configurable ``train`` is generated from
them, so ``train.epochs = 5`` binds ``Settings.optimization.epochs``, a misspelled binding fails
with a suggestion, and the help table (``describe``) lists them all.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import gin

from lite_tf import checks
from lite_tf.checks import above, at_least, one_of, within
from lite_tf.data import preprocessing
from lite_tf.data.pipeline import Augment
from lite_tf.training.distribute import STRATEGIES
from lite_tf.training.optim import OPTIMIZERS, SCHEDULES

gin.external_configurable(Augment, module="data")  # train.augment = @data.Augment()
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
FRACTION_BELOW_1 = within(0, 1, high_open=True)


def setting(default: Any, help: str, check=None):  # noqa: A002  (argparse's name for it)
    """A settings field with its default, one line of help and optionally a ``lite_tf.checks``
    check of its values (its declared type is always checked)."""
    return checks.field(default, check, help)


class Section:
    """A settings section: validated when made."""

    def __post_init__(self):
        checks.validate(self, "train")


@dataclasses.dataclass(frozen=True)
class Data(Section):
    """What the model trains and is evaluated on, and how images are prepared."""

    dataset: str = setting("sklearn_digits", "TFDS name, 'folder:/path' or the bundled 'sklearn_digits'")
    train_split: str = setting("train", "training split (TFDS syntax, e.g. 'train[:90%]')")
    eval_split: str = setting("test", "evaluation split")
    data_dir: str | None = setting(None, "TFDS data_dir")
    manual_dir: str | None = setting(None, "TFDS manual_dir (source files of a manual download)")
    image_size: int = setting(224, "square input size", at_least(1))
    batch_size: int = setting(128, "global batch size", at_least(1))
    augment: Augment | None = setting(None, "training augmentation, e.g. @data.Augment() (default: "
                                            "data.Augment's defaults)")
    eval_crop_fraction: float = setting(0.875, "central crop of each side for evaluation",
                                        within(0, 1, low_open=True))
    preprocessing: str | None = setting(None, "input scaling (default: what the pretrained weights "
                                              "expect, else 'tf')",
                                        one_of(*preprocessing.PRESETS))


@dataclasses.dataclass(frozen=True)
class Model(Section):
    """The zoo model trained."""

    model: str | None = setting(None, "a registered model name, e.g. 'mobilenext_100'")
    model_overrides: dict | None = setting(None, "create_model overrides, e.g. {'width': 0.5}")


@dataclasses.dataclass(frozen=True)
class Optimization(Section):
    """Optimizer, loss and learning-rate schedule."""

    epochs: int = setting(10, "training epochs", at_least(1))
    optimizer: str = setting("sgd", "the optimizer", one_of(*OPTIMIZERS))
    learning_rate: float = setting(0.1, "peak learning rate (0: the weights stay as they start)",
                                   at_least(0))
    base_batch_size: int | None = setting(None, "scale the rate by batch_size / base_batch_size",
                                          at_least(1))
    momentum: float = setting(0.9, "SGD / RMSProp momentum", FRACTION_BELOW_1)
    nesterov: bool = setting(False, "Nesterov momentum (SGD)")
    rmsprop_rho: float = setting(0.9, "RMSProp decay", FRACTION_BELOW_1)
    epsilon: float | None = setting(None, "optimizer epsilon (default: RMSProp 1e-3, AdamW 1e-7)",
                                    above(0))
    weight_decay: float = setting(0.0, "decoupled weight decay (BatchNorm and biases excluded)",
                                  at_least(0))
    schedule: str = setting("cosine", "learning-rate schedule after the warmup",
                            one_of(*SCHEDULES))
    warmup_epochs: float = setting(0.0, "linear warmup from 0", at_least(0))
    decay_epochs: float = setting(1.0, "'step': epochs between decays", above(0))
    decay_rate: float = setting(1.0, "'step': factor per decay", above(0))
    label_smoothing: float = setting(0.0, "label smoothing of the cross-entropy", FRACTION_BELOW_1)
    ema_momentum: float | None = setting(None, "exponential moving average of the weights",
                                         FRACTION_BELOW_1)
    clipnorm: float | None = setting(None, "gradient clipping by norm", above(0))


@dataclasses.dataclass(frozen=True)
class Distribution(Section):
    """Devices, numerics and reproducibility."""

    strategy: str = setting("default", "tf.distribute strategy", one_of(*STRATEGIES))
    precision: str = setting("float32", "Keras mixed-precision policy", one_of(*PRECISIONS))
    seed: int = setting(0, "random seed", at_least(0))
    deterministic: bool = setting(False, "deterministic TensorFlow ops")


@dataclasses.dataclass(frozen=True)
class Checkpointing(Section):
    """Checkpoints, the final model's formats and progress output."""

    checkpoint_every_steps: int | None = setting(None, "also back up every N steps (default: "
                                                       "every epoch)", at_least(1))
    saved_model: bool = setting(True, "also write the final model as a TensorFlow SavedModel "
                                      "(saved_model/, its serving_default signature)")
    verbose: Any = setting("auto", "Keras fit verbosity", one_of("auto", 0, 1, 2))


@dataclasses.dataclass(frozen=True)
class Lineage(Section):
    """What the run starts from and which compression stage it is."""

    init_from: str | None = setting(None, "a finished run to start from (its config and weights)")
    compress: str | None = setting(None, "the compression stage (lite_tf.compression.stage)")


SECTIONS = {"data": Data, "model": Model, "optimization": Optimization,
            "distribution": Distribution, "checkpointing": Checkpointing, "lineage": Lineage}


@dataclasses.dataclass(frozen=True)
class Settings:
    """All of a run's ``train.*`` settings, by section."""

    data: Data = dataclasses.field(default_factory=Data)
    model: Model = dataclasses.field(default_factory=Model)
    optimization: Optimization = dataclasses.field(default_factory=Optimization)
    distribution: Distribution = dataclasses.field(default_factory=Distribution)
    checkpointing: Checkpointing = dataclasses.field(default_factory=Checkpointing)
    lineage: Lineage = dataclasses.field(default_factory=Lineage)

    @classmethod
    def from_flat(cls, values: dict) -> Settings:
        """Settings from ``train.*`` names (unnamed fields keep their defaults)."""
        unknown = set(values) - set(FIELDS)
        if unknown:
            raise TypeError(f"unknown train settings: {', '.join(sorted(unknown))}")
        return cls(**{section: kind(**{f.name: values[f.name] for f in dataclasses.fields(kind)
                                       if f.name in values})
                      for section, kind in SECTIONS.items()})

    def flat(self) -> dict:
        """``{train.* name: value}``."""
        return {f.name: getattr(getattr(self, section), f.name)
                for section, kind in SECTIONS.items() for f in dataclasses.fields(kind)}

    def replace(self, **values) -> Settings:
        return Settings.from_flat({**self.flat(), **values})

    def to_gin(self, keep: tuple[str, ...] = ("dataset",)) -> str:
        """The settings that differ from the defaults (and those in ``keep``) as ``train.*`` gin
        bindings, one per line (an augmentation as ``@data.Augment()`` and its own bindings)."""
        lines, defaults = [], Settings().flat()
        for name, value in self.flat().items():
            if value == defaults[name] and name not in keep:
                continue
            if isinstance(value, Augment):
                lines.append(f"train.{name} = @data.Augment()")
                lines += [f"data.Augment.{f.name} = {getattr(value, f.name)!r}"
                          for f in dataclasses.fields(Augment)
                          if getattr(value, f.name) != getattr(Augment(), f.name)]
            else:
                lines.append(f"train.{name} = {value!r}")
        return "".join(line + "\n" for line in lines)

    def record(self) -> dict:
        """The settings as JSON for the run's record (the augmentation as a dict)."""
        return {name: dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value
                for name, value in self.flat().items()}


FIELDS = {f.name: f for kind in SECTIONS.values() for f in dataclasses.fields(kind)}


def gin_settings(name: str, fields: dict, make, doc: str):
    """The gin configurable ``name`` taking each of ``fields`` (dataclass fields by name) as a
    keyword with its type and default, and returning ``make(**values)``: ``name.<field> = ...``
    binds them, a misspelled binding fails."""
    def configurable(**values):
        return make(**values)

    configurable.__name__ = configurable.__qualname__ = name
    configurable.__signature__ = inspect.Signature([
        inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, annotation=f.type, default=f.default)
        for n, f in fields.items()])
    configurable.__doc__ = doc
    configurable.__module__ = make.__module__  # gin names it after the settings' module
    return gin.configurable(name)(configurable)


train = gin_settings("train", FIELDS, lambda **values: Settings.from_flat(values),
                     "The run's settings: every train.* binding (lite_tf.training.settings).")


def from_gin() -> Settings:
    """The settings the parsed gin config binds (``train.*``), defaults for the rest."""
    return train()


def describe() -> list[tuple[str, str, str, str, str]]:
    """(section, ``train.<name>``, default, accepted values, help) for every setting."""
    return [(section, f"train.{f.name}", repr(f.default),
             checks.accepts(f.type, f.metadata["check"]), f.metadata["help"])
            for section, kind in SECTIONS.items() for f in dataclasses.fields(kind)]
