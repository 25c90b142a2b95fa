"""Knowledge distillation (Hinton et al., "Distilling the Knowledge in a Neural Network", arXiv
1503.02531), with an optional hint loss between intermediate features through a 1x1 adapter
(FitNets, Romero et al., arXiv 1412.6550).

The student trains on ``alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T)) +
(1 - alpha) * cross-entropy(labels, student)`` (+ ``hint_weight`` * the hint MSE); the teacher is a
finished run (or a model file) and is never updated.
"""

from __future__ import annotations

import dataclasses
import os

import gin

from lite_tf import rundir
from lite_tf.backend import keras, layers, tf
from lite_tf.checks import above, at_least, field, validate, within
from lite_tf.compression import stage
from lite_tf.data import preprocessing as scaling
from lite_tf.errors import InputError

LOGITS_OF = "predictions"  # the softmax layer whose input is the logits (see models.builder)


@gin.configurable(module="distill")
@dataclasses.dataclass(frozen=True)
class Distillation:
    """``teacher``: a finished run's workdir or a ``.keras``/``.h5`` model file, trained on the same
    data at the same image size. ``alpha`` weighs the distillation term against the hard-label
    loss; ``temperature`` softens both distributions. ``hint``: (teacher layer, student layer)
    whose outputs (same height and width) are matched by MSE through a 1x1 convolution."""

    teacher: str | None = None
    temperature: float = field(4.0, above(0))
    alpha: float = field(0.9, within(0, 1))
    hint: tuple[str, str] | None = None
    hint_weight: float = field(1.0, at_least(0))

    def check(self) -> None:
        if not self.teacher:
            raise InputError("distillation needs a teacher: bind distill.Distillation.teacher to "
                             "a finished run or a model file")
        validate(self, "distill.Distillation")


def soft_loss(teacher_logits, student_logits, temperature: float):
    """``T^2 * KL(softmax(teacher / T) || softmax(student / T))``, averaged over the batch: zero
    when the two outputs give the same distribution, positive otherwise."""
    t = tf.cast(teacher_logits, tf.float32) / temperature
    s = tf.cast(student_logits, tf.float32) / temperature
    kl = tf.reduce_sum(tf.nn.softmax(t) * (tf.nn.log_softmax(t) - tf.nn.log_softmax(s)), axis=-1)
    return temperature ** 2 * tf.reduce_mean(kl)


def _outputs(model, hint_layer: str | None):
    """A model sharing ``model``'s layers with outputs (logits, probabilities[, hint feature])."""
    try:
        logits = model.get_layer(LOGITS_OF).input
        feature = [model.get_layer(hint_layer).output] if hint_layer else []
    except ValueError as e:
        raise InputError(f"distillation: {model.name}: {str(e).splitlines()[0][:120]}") from None
    return keras.Model(model.inputs, [logits, model.output, *feature], name=f"{model.name}_outputs")


def load_teacher(path: str):
    """The teacher model of a finished run (its final model) or of a model file."""
    if os.path.isfile(path):
        return stage.read_model(path)
    if not os.path.isdir(path):
        raise InputError(f"distill.Distillation.teacher {path!r} is neither a run directory nor "
                         f"a model file")
    return stage.load_model(rundir.find_run(path))


class Distiller(keras.Model):
    """Trains ``student`` against a frozen ``teacher``; evaluates and predicts as the student."""

    def __init__(self, student, teacher, distillation: Distillation, **kwargs):
        super().__init__(name=f"{student.name}_distiller", **kwargs)
        if tuple(teacher.input_shape[1:]) != tuple(student.input_shape[1:]) or \
                teacher.output_shape[-1] != student.output_shape[-1]:
            raise InputError(f"the teacher ({teacher.name}: input {teacher.input_shape[1:]}, "
                             f"{teacher.output_shape[-1]} classes) does not match the student "
                             f"({student.name}: input {student.input_shape[1:]}, "
                             f"{student.output_shape[-1]} classes)")
        teacher.trainable = False
        self.student, self.config = student, distillation
        hint = distillation.hint or (None, None)
        self.teacher_outputs = _outputs(teacher, hint[0])
        self.student_outputs = _outputs(student, hint[1])
        self.adapter = None
        if distillation.hint:
            t, s = self.teacher_outputs.outputs[2].shape, self.student_outputs.outputs[2].shape
            if len(t) != 4 or len(s) != 4 or t[1:3] != s[1:3]:
                raise InputError(f"distill.Distillation.hint: {hint[0]} {tuple(t[1:])} and "
                                 f"{hint[1]} {tuple(s[1:])} need feature maps of the same size")
            self.adapter = layers.Conv2D(t[-1], 1, name="hint_adapter")
            self.adapter.build(s)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.distill_tracker = keras.metrics.Mean(name="distill_loss")
        self.hard_tracker = keras.metrics.Mean(name="hard_loss")

    @property
    def metrics(self):
        return [self.loss_tracker, self.distill_tracker, self.hard_tracker,
                *self.compiled_metrics.metrics]

    def call(self, x, training=False):
        return self.student(x, training=training)

    def hard_loss(self, y, probs):
        """The compiled loss (cross-entropy with labels) plus the student's regularization."""
        return self.loss(y, probs) + tf.add_n([0.0, *self.student.losses])

    def losses_on(self, x, y, training: bool):
        """(total, distillation term, hard-label loss, student probabilities) on one batch."""
        teacher = self.teacher_outputs(x, training=False)
        student = self.student_outputs(x, training=training)
        hard = self.hard_loss(y, student[1])
        soft = soft_loss(teacher[0], student[0], self.config.temperature)
        total = self.config.alpha * soft + (1.0 - self.config.alpha) * hard
        if self.adapter is not None:
            hint = tf.cast(self.adapter(student[2]), tf.float32) - tf.cast(teacher[2], tf.float32)
            total += self.config.hint_weight * tf.reduce_mean(tf.square(hint))
        return total, soft, hard, student[1]

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            total, soft, hard, probs = self.losses_on(x, y, training=True)
        variables = self.student.trainable_variables + (self.adapter.trainable_variables
                                                        if self.adapter else [])
        self.optimizer.minimize(total, variables, tape=tape)
        for tracker, value in ((self.loss_tracker, total), (self.distill_tracker, soft),
                               (self.hard_tracker, hard)):
            tracker.update_state(value)
        self.compiled_metrics.update_state(y, probs)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        """The student alone, as it will be used: hard-label loss and metrics."""
        x, y = data
        probs = self.student(x, training=False)
        self.loss_tracker.update_state(self.hard_loss(y, probs))
        self.compiled_metrics.update_state(y, probs)
        return {m.name: m.result() for m in (self.loss_tracker, *self.compiled_metrics.metrics)}


def check_teacher(teacher: str | None, preprocessing: str | None) -> None:
    """A teacher run must have seen its images scaled as the student will."""
    if teacher and os.path.isdir(teacher):
        theirs = rundir.find_run(teacher)["preprocessing"] or scaling.DEFAULT
        ours = preprocessing or scaling.DEFAULT
        if theirs != ours:
            raise InputError(f"the teacher {teacher} was trained on images scaled as "
                             f"{theirs!r}, the student's are {ours!r}: set "
                             f"train.preprocessing = {theirs!r}")


@stage.register
class Distill(stage.Stage):
    """``distill``: the run's model learns from a teacher; the student alone is saved."""

    name, label = "distill", "distill"
    settings = Distillation

    def prepare(self, net, options: Distillation, context):
        check_teacher(options.teacher, context.preprocessing)
        return stage.Prepared(Distiller(net, load_teacher(options.teacher), options),
                              final=lambda: net)
