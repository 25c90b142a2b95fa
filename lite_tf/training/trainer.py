"""The training loop behind ``python -m train``, in parts with one job each: the start (parent run,
pretrained weights), the data, the model and its compression stage, the optimizer, then fitting
with checkpoints and saving the run.

``prepare(settings)`` checks everything and builds the data and model without writing a file, so
bad input never creates or touches a run directory; ``Job.fit(run)`` trains into the run
directory the caller chose (``lite_tf.training.launch``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math

import gin

from lite_tf import files, rundir
from lite_tf.backend import keras, tf
from lite_tf.compression import stage as stages
from lite_tf.data import pipeline, sources
from lite_tf.data import preprocessing as scaling
from lite_tf.errors import InputError, Interrupted
from lite_tf.models import create_model as zoo_model
from lite_tf.models import get_entry
from lite_tf.models.registry import fresh_builder
from lite_tf.training import callbacks, distribute, metrics, optim
from lite_tf.training.config import query
from lite_tf.training.settings import Settings
from lite_tf.weights import pretrained

# create_model.* bindings apply to the model a run trains: `create_model.weights = 'imagenet'`.
create_model = gin.external_configurable(zoo_model, name="create_model")
# The create_model parameters a run passes itself, and what decides them instead.
SET_BY = {"create_model.name": "train.model", "create_model.input_shape": "train.image_size",
          "create_model.num_classes": "the dataset's classes"}


def write_saved_model(model: keras.Model, path: str) -> None:
    """``model`` as a TensorFlow SavedModel serving ``serving_default`` (the images by the input's
    name in, the output by its layer's name out) for the converters and servers that read one,
    without Keras's per-layer call traces: a fifth to a quarter of the time (MobileNeXt-0.35 at
    32x32: 10.8 s -> 2.1 s, its QAT model 25 s -> 6.3 s). Keras reloads it from its config (a QAT
    model inside ``quantize.quantize_scope()``); the run's model.keras is the Keras file."""
    spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32, name=model.input_names[0])
    serve = tf.function(lambda images: {model.output_names[0]: model(images, training=False)})
    model.save(path, save_format="tf", save_traces=False,
               signatures={"serving_default": serve.get_concrete_function(spec)})


class Diverged(InputError):
    """The loss became NaN or infinite; the last good checkpoint was kept."""


@dataclasses.dataclass(frozen=True)
class Start:
    """What a run starts from: a finished parent run (a compression stage) or pretrained weights
    (``create_model.weights``), and the settings they decide (input scaling, model settings)."""

    settings: Settings
    parent: rundir.Run | None = None
    checkpoint: pretrained.Checkpoint | None = None
    weights: str | None = None  # as bound: 'imagenet' or a path


def resolve_start(settings: Settings) -> Start:
    """The parent run or pretrained weights, found (or fetched) now so a miss fails before any
    work; the input scaling defaults to what the weights expect."""
    init_from = settings.lineage.init_from
    parent = rundir.find_run(init_from) if init_from else None
    weights = None if parent else query("create_model.weights")
    checkpoint, changes = None, {}
    if weights is not None:
        entry = get_entry(settings.model.model)
        checkpoint = pretrained.resolve(entry, weights, fresh_builder(entry.name))
        if checkpoint.overrides:
            changes["model_overrides"] = {**checkpoint.overrides, **(settings.model.model_overrides or {})}
    if settings.data.preprocessing is None:
        changes["preprocessing"] = checkpoint.preprocessing if checkpoint else scaling.DEFAULT
    scaling.get(changes.get("preprocessing", settings.data.preprocessing))
    if parent:
        changes["init_from"] = parent.workdir
    return Start(settings.replace(**changes), parent, checkpoint, weights)


@dataclasses.dataclass(frozen=True)
class Data:
    train: tf.data.Dataset
    eval: tf.data.Dataset
    classes: int
    steps_per_epoch: int


def make_data(settings: Settings, workers: int) -> Data:
    """The training and evaluation pipelines (checking the dataset and its splits)."""
    d = settings.data
    builder = sources.get_builder(d.dataset, d.data_dir, d.manual_dir)
    num_train = sources.split_size(builder, d.train_split)
    sources.split_size(builder, d.eval_split)
    common = dict(batch_size=d.batch_size, image_size=d.image_size, num_workers=workers,
                  preprocessing=d.preprocessing)
    train = pipeline.make_dataset(builder, d.train_split, training=True,
                                  augment=d.augment or pipeline.Augment(),
                                  seed=settings.distribution.seed, **common)
    evaluation = pipeline.make_dataset(builder, d.eval_split, training=False,
                                       crop_fraction=d.eval_crop_fraction, **common)
    return Data(train, evaluation, sources.num_classes(builder), max(num_train // d.batch_size, 1))


def make_model(start: Start, stage: stages.Stage, options, data: Data, epochs: int) -> stages.Prepared:
    """The zoo model with its start weights (parent run or pretrained), prepared by the stage."""
    s = start.settings
    size = s.data.image_size
    net = create_model(s.model.model, num_classes=data.classes, input_shape=(size, size, 3),
                       weights=start.checkpoint, **(s.model.model_overrides or {}))
    if start.parent:
        _load_parent_weights(net, start.parent)
    return stage.prepare(net, options, stages.Context(epochs * data.steps_per_epoch,
                                                      s.model.model_overrides,
                                                      s.data.preprocessing, data.train))


def _load_parent_weights(net, parent: rundir.Run) -> None:
    if stages.get(parent.stage).quantized:
        raise InputError(f"the run in {parent.workdir} is quantization-aware trained: start a "
                         f"compression stage from a float run")
    source = stages.load_model(parent)
    try:
        net.set_weights(source.get_weights())
    except ValueError:
        raise InputError(f"the weights of {parent.model_path} ({parent['model']}) do not fit "
                         f"{net.name}: train.init_from needs the same model") from None


def compile_model(model, settings: Settings, steps_per_epoch: int, classes: int) -> None:
    model.compile(
        optimizer=optim.from_settings(settings.optimization, steps_per_epoch, settings.data.batch_size),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=settings.optimization.label_smoothing),
        metrics=[metrics.TopK(1, name="top1"), metrics.TopK(min(5, classes), name="top5")])


@dataclasses.dataclass
class Job:
    """A checked, built training run, ready to fit into a run directory."""

    start: Start
    stage: stages.Stage
    prepared: stages.Prepared
    data: Data
    worker: int

    @property
    def settings(self) -> Settings:
        """The run's resolved settings (a stage's architecture change included)."""
        if self.prepared.model_overrides is None:
            return self.start.settings
        return self.start.settings.replace(model_overrides=self.prepared.model_overrides)

    def fit(self, run: rundir.RunDir) -> dict:
        """Fit with resume, best checkpoint, NaN guard and logs; save the final model (all
        workers: worker i > 0 into its own folder) and the run's record; returns the final
        figures."""
        s = self.start.settings
        out = run.worker(self.worker)
        for folder in (out.path, out.checkpoints):
            files.writable_dir(folder, "workdir")
        checkpoints = callbacks.Checkpointing(run, out, s.data.batch_size,
                                              s.checkpointing.checkpoint_every_steps)
        epochs = s.optimization.epochs
        if self.prepared.evaluate_first and not checkpoints.log.metrics["history"]:
            checkpoints.log.metrics["before_training"] = {
                f"val_{k}": float(v) for k, v in self.prepared.model.evaluate(
                    self.data.eval, verbose=0, return_dict=True).items()}
        try:
            self.prepared.model.fit(self.data.train, epochs=epochs,
                                    steps_per_epoch=self.data.steps_per_epoch,
                                    validation_data=self.data.eval,
                                    callbacks=[checkpoints.interrupt, *self.prepared.callbacks,
                                               *checkpoints.callbacks],
                                    verbose=s.checkpointing.verbose)
        except Interrupted as e:
            raise Interrupted(f"{e}: rerun the same command to resume {run.path} from its last "
                              f"backup ({checkpoints.backup.last})") from None
        finally:
            checkpoints.interrupt.restore()
        if checkpoints.nan.where:
            epoch, step = checkpoints.nan.where
            raise Diverged(f"the loss became NaN in epoch {epoch}, step {step}: training stopped; "
                           f"the last checkpoint before it ({checkpoints.backup.last}) is kept in "
                           f"{run.backup}, the best in checkpoints/: lower train.learning_rate or "
                           f"set train.clipnorm")
        return self._save(out, checkpoints.log.metrics)

    def _save(self, out: rundir.RunDir, metrics: dict) -> dict:
        net = self.prepared.final_model()
        last = metrics["history"][-1]
        s = self.settings
        metrics["final"] = {"model": s.model.model, "dataset": s.data.dataset,
                            "epochs": last["epoch"], "val_top1": last["val_top1"],
                            "val_top5": last["val_top5"], "val_loss": last["val_loss"],
                            "wall_seconds": last["wall_seconds"],
                            "params": int(sum(math.prod(w.shape) for w in net.trainable_weights)),
                            **self.prepared.report(net)}
        if "before_training" in metrics:
            metrics["final"]["before_training"] = metrics["before_training"]
        net.save(out.model_file(self.stage.quantized))
        if s.checkpointing.saved_model:
            write_saved_model(net, out.saved_model)
        out.finish(s.record(), self.start.weights, self._config(s))
        files.write_json(out.metrics, metrics)
        return metrics["final"]

    def _config(self, s: Settings) -> str:
        """The operative gin config, plus the settings the run worked out itself (pretrained
        weights, their input scaling and model settings, a stage's architecture): a stage started
        from this run parses it as its base."""
        resolved = {}
        if self.start.weights is not None:
            resolved["create_model.weights"] = self.start.weights
        if self.prepared.model_overrides is not None or self.start.checkpoint:
            resolved["train.model_overrides"] = s.model.model_overrides
        resolved["train.preprocessing"] = s.data.preprocessing
        return (gin.operative_config_str()
                + "\n# Worked out by the run (the pretrained weights, their input scaling and "
                  "settings, the architecture a stage made): later stages and exports use them.\n"
                + "".join(f"{key} = {value!r}\n" for key, value in resolved.items()))


@contextlib.contextmanager
def prepare(settings: Settings):
    """Check ``settings`` and build the data and model (no file written); yields the ``Job``.
    Raises InputError for bad settings."""
    if not settings.model.model:
        raise InputError("train.model is not set: bind a model, e.g. train.model = 'mobilenext_100'")
    precision = settings.distribution.precision
    stage = stages.get(settings.lineage.compress)
    options = stage.options()
    stage.check(options, precision)
    start = resolve_start(settings)
    stage.check_parent((start.parent.stage or 'none') if start.parent else None)
    keras.utils.set_random_seed(settings.distribution.seed)
    if settings.distribution.deterministic:
        tf.config.experimental.enable_op_determinism()
    strategy = distribute.make_strategy(settings.distribution.strategy)
    data = make_data(start.settings, distribute.num_workers(strategy))
    keras.mixed_precision.set_global_policy(precision)
    try:
        with strategy.scope():
            prepared = make_model(start, stage, options, data, settings.optimization.epochs)
            compile_model(prepared.model, start.settings, data.steps_per_epoch, data.classes)
        yield Job(start, stage, prepared, data, distribute.worker_index(strategy))
    finally:
        keras.mixed_precision.set_global_policy("float32")
