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
            "eval_split", "image_size", "eval_crop_fraction", "precision")


@dataclasses.dataclass(frozen=True)
class Run:
    workdir: str
    settings: dict  # the run's train.* bindings, defaults included
    model_file: str = ""  # a model given by path (see model_file_run); "" for a run's model.keras

    @property
    def model_path(self) -> str:
        return self.model_file or os.path.join(self.workdir, "model.keras")

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
    if not os.path.exists(os.path.join(path, "model.keras")) or not os.path.exists(config):
        raise InputError(
            f"the run in {path} has not finished training: rerun its python -m train command "
            f"(command.json) to resume it, or export the best weights so far from "
            f"{os.path.join(path, 'checkpoints', 'best.weights.h5')} after it finishes")
    return Run(os.path.realpath(path), read_settings(config))


def model_file_run(path: str, dataset: str, data_dir: str | None = None,
                   train_split: str = "train", eval_split: str = "test") -> Run:
    """A model given by path (``.keras``, ``.h5`` or a SavedModel folder) with the dataset to
    calibrate and verify it on, seen as a run: images are preprocessed as lite_tf trains
    (resized whole, scaled to [-1, 1]); ``image_size`` is read from the model when it loads."""
    if not os.path.exists(path):
        raise InputError(f"no model at {path}")
    name = os.path.splitext(os.path.basename(os.path.normpath(path)))[0]
    settings = dict(model=name, model_overrides=None, dataset=dataset, data_dir=data_dir,
                    manual_dir=None, train_split=train_split, eval_split=eval_split,
                    image_size=None, eval_crop_fraction=1.0, precision="float32")
    return Run(os.path.dirname(os.path.abspath(path)), settings, os.path.abspath(path))


def read_settings(config_path: str) -> dict:
    """The ``train.*`` values of an operative config.gin."""
    from lite_tf import trainer  # noqa: F401  (registers the train configurable)

    with gin.unlock_config():
        gin.clear_config()
        gin.parse_config_file(config_path)
        settings = {name: gin.query_parameter(f"train.{name}") for name in SETTINGS}
        gin.clear_config()
    return settings
