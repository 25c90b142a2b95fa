"""A training run's workdir as later stages see it: where it is, whether it finished, its settings.

Everything is read back from the files ``python -m train`` writes (``config.gin``,
``model.keras``, ``metrics.json``), so an export or a compression stage sees exactly the data,
preprocessing and model the run trained.
"""

from __future__ import annotations

import dataclasses
import os

import gin

from lite_tf.errors import InputError

LATEST = os.path.join("runs", "latest")
# The train.* settings later stages need: the data, its preprocessing and the model.
SETTINGS = ("model", "model_overrides", "dataset", "data_dir", "manual_dir", "train_split",
            "eval_split", "image_size", "eval_crop_fraction", "preprocessing", "precision",
            "compress", "init_from")
# A finished run's final model: .keras, or .h5 for QAT models (TF-MOT cannot reload them from .keras).
FINAL_MODELS = ("model.keras", "model.h5")


def final_model(workdir: str) -> str | None:
    """The final model file of the run in ``workdir``; None while it has not finished."""
    return next((os.path.join(workdir, name) for name in FINAL_MODELS
                 if os.path.exists(os.path.join(workdir, name))), None)


@dataclasses.dataclass(frozen=True)
class Run:
    workdir: str
    settings: dict  # the run's train.* bindings, defaults included
    model_file: str = ""  # a model given by path (see model_file_run); "" for a run's model.keras

    @property
    def model_path(self) -> str:
        return self.model_file or final_model(self.workdir) or os.path.join(self.workdir, "model.keras")

    def __getitem__(self, key):
        return self.settings[key]


def find_run(workdir: str | None = None) -> Run:
    """The finished run in ``workdir`` (default runs/latest); InputError, in one line, if there is
    none or it has not finished."""
    path = workdir or LATEST
    if not os.path.isdir(path):
        hint = "train one with python -m train --config quickstart" if workdir is None else \
            "pass --workdir with a run directory"
        raise InputError(f"no training run at {path}: {hint}")
    config = os.path.join(path, "config.gin")
    if not final_model(path) or not os.path.exists(config):
        raise InputError(
            f"the run in {path} has not finished training: rerun its python -m train command "
            f"(command.json) to resume it, or export the best weights so far from "
            f"{os.path.join(path, 'checkpoints', 'best.weights.h5')} after it finishes")
    return Run(os.path.realpath(path), read_settings(config))


def model_file_run(path: str, dataset: str, data_dir: str | None = None,
                   train_split: str = "train", eval_split: str = "test",
                   preprocessing: str | None = None) -> Run:
    """A model given by path (``.keras``, ``.h5`` or a SavedModel folder) with the dataset to
    calibrate and verify it on, seen as a run: images are preprocessed as lite_tf trains
    (resized whole, scaled as ``preprocessing``, default [-1, 1]); ``image_size`` is read from
    the model when it loads."""
    if not os.path.exists(path):
        raise InputError(f"no model at {path}")
    name = os.path.splitext(os.path.basename(os.path.normpath(path)))[0]
    settings = dict(model=name, model_overrides=None, dataset=dataset, data_dir=data_dir,
                    manual_dir=None, train_split=train_split, eval_split=eval_split,
                    image_size=None, eval_crop_fraction=1.0, preprocessing=preprocessing,
                    precision="float32", compress=None, init_from=None)
    return Run(os.path.dirname(os.path.abspath(path)), settings, os.path.abspath(path))


def read_settings(config_path: str) -> dict:
    """The ``train.*`` values of an operative config.gin (None where it binds none), read without
    touching gin's global configuration: a run being configured may be reading its parent's."""
    from gin import config, config_parser

    with open(config_path) as f:
        bound = {statement.arg_name: statement.value
                 for statement in config_parser.ConfigParser(f, config.ParserDelegate(skip_unknown=True))
                 if isinstance(statement, config_parser.BindingStatement)
                 and statement.selector == "train" and not statement.scope}
    return {name: bound.get(name) for name in SETTINGS}


def query(name: str):
    """A bound gin value, or None when the config does not bind it."""
    try:
        return gin.query_parameter(name)
    except ValueError:
        return None


def read_model(path: str, load=None):
    """``load(path)`` (default: a tf_keras ``.keras``/``.h5`` file, QAT models included), or a
    one-line InputError when the file cannot be read."""
    if load is None:
        from lite_tf.backend import keras
        from lite_tf.quantize import quantize_scope

        def load(p):
            with quantize_scope():
                return keras.models.load_model(p, compile=False)
    try:
        return load(path)
    except InputError:
        raise
    except Exception as e:  # a truncated or foreign file: Keras and TensorFlow raise many kinds
        raise InputError(f"cannot read {path}: {str(e).strip().splitlines()[0][:200]}") from None


def build_model(run: Run, num_classes: int):
    """The run's float architecture, freshly initialized."""
    from lite_tf.models import create_model

    size = run["image_size"]
    return create_model(run["model"], num_classes=num_classes, input_shape=(size, size, 3),
                        **(run["model_overrides"] or {}))


def load_model(run: Run):
    """The run's final model, rebuilt from the zoo in float32 (QAT runs: fake-quantized) with its
    trained weights, so mixed-precision runs give float32 models."""
    from lite_tf.quantize import quantize_model
    from lite_tf.stages import QUANTIZED

    trained = read_model(run.model_path)
    model = build_model(run, trained.output_shape[-1])
    if run["compress"] in QUANTIZED:
        model = quantize_model(model, preserve_sparsity=run["compress"] == "pqat")
    model.set_weights(trained.get_weights())
    return model
