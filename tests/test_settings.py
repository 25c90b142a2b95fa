"""Every train.* setting is validated from its one declaration (type and range) when the settings
are made: one line naming the binding, before any work or write."""

import dataclasses
import math
import re

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from conftest import one_error_line, run_command, snapshot
from lite_tf import checks
from lite_tf.compression import channel_prune, distill, prune
from lite_tf.errors import InputError
from lite_tf.training import settings


def wrong_type(f):
    """A value of the wrong type for field ``f`` (None where it cannot be None)."""
    return 12345 if "str" in str(f.type) or f.type == "Any" else "text"


CHECKED = sorted(n for n, f in settings.FIELDS.items() if "Augment" not in str(f.type))


@pytest.mark.parametrize("name", CHECKED)
def test_every_setting_rejects_a_value_of_the_wrong_type(name):
    f = settings.FIELDS[name]
    with pytest.raises(InputError, match=rf"^train\.{name} must be .*, got {wrong_type(f)!r}$"):
        settings.Settings.from_flat({name: wrong_type(f)})
    settings.Settings.from_flat({name: f.default})  # the default itself is valid


def test_every_number_setting_declares_its_range():
    unchecked = [n for n, f in settings.FIELDS.items() if ("int" in str(f.type) or "float" in
                 str(f.type)) and f.metadata["check"] is None]
    assert unchecked == []


# (binding, the line's end): a sample of ranges; the CLI test below runs the first three.
OUT_OF_RANGE = [
    ("train.epochs = -1", "train.epochs must be >= 1, got -1"),
    ("train.batch_size = 0", "train.batch_size must be >= 1, got 0"),
    ("train.optimizer = 'sdg'", "train.optimizer must be one of sgd, rmsprop, adamw (did you mean "
                                "'sgd'?), got 'sdg'"),
    ("train.epochs = 2.5", "train.epochs must be an integer, got 2.5"),
    ("train.learning_rate = -0.1", "train.learning_rate must be >= 0, got -0.1"),
    ("train.momentum = 1.0", "train.momentum must be in [0, 1), got 1.0"),
    ("train.eval_crop_fraction = 0.0", "train.eval_crop_fraction must be in (0, 1], got 0.0"),
    ("train.label_smoothing = -0.1", "train.label_smoothing must be in [0, 1), got -0.1"),
    ("train.verbose = True", "train.verbose must be one of auto, 0, 1, 2, got True"),
    ("train.precision = 'float16'", "train.precision must be one of float32, mixed_float16, "
                                    "mixed_bfloat16 (did you mean 'float32'?), got 'float16'"),
    ("train.preprocessing = 'caffe'", "train.preprocessing must be one of tf, torch, bgr, got 'caffe'"),
    ("train.model_overrides = 'width=0.5'", "train.model_overrides must be a dict or None, got "
                                            "'width=0.5'"),
    ("train.checkpoint_every_steps = 0", "train.checkpoint_every_steps must be >= 1, got 0"),
]


@pytest.mark.parametrize("binding, says", OUT_OF_RANGE)
def test_out_of_range_settings(binding, says):
    import gin
    gin.parse_config(binding)
    with pytest.raises(InputError) as error:
        settings.from_gin()
    assert str(error.value).splitlines()[0] == says


@pytest.mark.parametrize("binding, says", OUT_OF_RANGE[:3])
def test_out_of_range_setting_is_one_line_exit_2_nothing_written(binding, says, tmp_path):
    before = snapshot(tmp_path)
    proc = run_command("train", ["--config", "quickstart", "--gin_bindings", binding],
                       "python -m train", tmp_path)
    assert one_error_line(proc, "python -m train") == f"python -m train: error: {says}"
    assert snapshot(tmp_path) == before and not (tmp_path / "runs").exists()


def test_checks():
    assert checks.at_least(1)(1) is None and checks.at_least(1)(0) == ">= 1"
    assert checks.at_least(1)(True) == ">= 1"  # a bool is not a number here
    assert checks.within(0, 1, high_open=True)(1) == "in [0, 1)"
    assert checks.one_of("a", 0)(0) is None and checks.one_of("a", 0)(False) is not None
    assert checks.type_problem("int | None", None) is None
    assert checks.type_problem("int", None) == "set (not None)"
    assert checks.type_problem("float", 3) is None and checks.type_problem("int", 3.0) == "an integer"
    assert dataclasses.is_dataclass(settings.Settings())  # the defaults are all valid


# Property: any values for any settings either make valid Settings or fail in one line naming one
# of the bindings; what is accepted keeps the invariants the trainer relies on.
ANY_VALUE = st.one_of(st.none(), st.booleans(), st.integers(-3, 1000),
                      st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
                      st.sampled_from(["sgd", "adamw", "cosine", "auto", "tf", "mirrored",
                                       "float32", "mixed_float16"]),
                      st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))
NUMBERS = {n for n, f in settings.FIELDS.items() if "int" in str(f.type) or "float" in str(f.type)}


EDGES = st.sampled_from([0, 1, -1, 0.0, 0.5, 1.0, 2, math.inf, -math.inf, math.nan, 1e300, True])


def plausible(name):
    """Values a user might bind to ``name``: its default, its choices, numeric edge cases, and
    now and then anything at all."""
    f = settings.FIELDS[name]
    choices = getattr(f.metadata["check"], "choices", ())
    usual = st.sampled_from([f.default, *choices])
    return st.one_of(usual, EDGES, ANY_VALUE) if name in NUMBERS else st.one_of(usual, ANY_VALUE)


@st.composite
def some_settings(draw):
    """Up to 4 settings with plausible values (mostly valid, so that the other checks are reached)."""
    names = draw(st.lists(st.sampled_from(CHECKED), max_size=4, unique=True))
    return {n: draw(plausible(n)) for n in names}


@pytest.mark.parametrize("name", CHECKED)
@given(data=st.data())
@hypothesis_settings(max_examples=40, deadline=None)
def test_any_value_of_each_setting_is_accepted_or_rejected_in_one_line(name, data):
    value = data.draw(st.one_of(plausible(name), st.floats()) if name in NUMBERS else plausible(name))
    check_accepted_or_one_line({name: value})


@given(some_settings())
@hypothesis_settings(max_examples=200, deadline=None)
def test_any_values_are_accepted_or_rejected_in_one_line(values):
    check_accepted_or_one_line(values)


def check_accepted_or_one_line(values):
    try:
        made = settings.Settings.from_flat(values)
    except InputError as e:
        assert len(str(e).splitlines()) == 1
        assert re.match(rf"train\.({'|'.join(values)}) must be ", str(e)), str(e)
        return
    flat = made.flat()
    for name in NUMBERS & set(values):
        value = flat[name]
        assert value is None or (not isinstance(value, bool) and math.isfinite(value)), (name, value)
    assert flat["epochs"] >= 1 and flat["batch_size"] >= 1 and flat["image_size"] >= 1
    assert flat["learning_rate"] >= 0 and 0 <= flat["momentum"] < 1
    assert 0 < flat["eval_crop_fraction"] <= 1 and flat["verbose"] in ("auto", 0, 1, 2)
    assert isinstance(flat["epochs"], int) and not isinstance(flat["epochs"], bool)


# The stages' settings are declared the same way (a sample; test_compress runs them end to end).
@pytest.mark.parametrize("make, says", [
    (lambda: prune.Pruning(target=1.0), "prune.Pruning.target must be in [0, 1), got 1.0"),
    (lambda: prune.Pruning(frequency=0), "prune.Pruning.frequency must be >= 1, got 0"),
    (lambda: prune.Pruning(policy="xnnpak"), "prune.Pruning.policy must be one of xnnpack (did you "
                                             "mean 'xnnpack'?), got 'xnnpak'"),
    (lambda: prune.Pruning(end=math.nan), "prune.Pruning.end must be in (0, 1], got nan"),
    (lambda: channel_prune.ChannelPruning(criterion="l2"),
     "channel_prune.ChannelPruning.criterion must be one of l1, bn, apoz, lasso, got 'l2'"),
    (lambda: channel_prune.ChannelPruning(divisor=0),
     "channel_prune.ChannelPruning.divisor must be >= 1, got 0"),
    (lambda: distill.Distillation(teacher="run", alpha=1.5),
     "distill.Distillation.alpha must be in [0, 1], got 1.5"),
    (lambda: distill.Distillation(teacher="run", hint_weight="1"),
     "distill.Distillation.hint_weight must be a number, got '1'"),
])
def test_stage_settings_are_validated_from_their_declarations(make, says):
    with pytest.raises(InputError) as error:
        make().check()
    assert str(error.value) == says


# Bindings a run would silently ignore: (extra bindings, the error line's end).
IGNORED = [
    (["create_model.name = 'mobilenet_v1_025'"],
     "create_model.name is bound but the run sets it itself (from train.model): remove the binding"),
    (["create_model.input_shape = (64, 64, 3)"], "create_model.input_shape is bound but the run sets "
                                                 "it itself (from train.image_size): remove the binding"),
    (["prune.Pruning.target = 0.5"],
     "prune.Pruning.target is bound but never used: this run does not call prune.Pruning"),
    (["train.augment = None", "data.Augment.flip = False"],
     "data.Augment.flip is bound but never used: this run does not call data.Augment"),
]


@pytest.mark.parametrize("bindings, says", [  # the first two in the default suite
    pytest.param(*case, marks=[pytest.mark.slow] if i >= 2 else []) for i, case in enumerate(IGNORED)])
def test_an_ignored_binding_is_one_line_exit_2_nothing_written(bindings, says, tmp_path):
    args = ["--config", "quickstart"] + [a for b in bindings for a in ("--gin_bindings", b)]
    before = snapshot(tmp_path)
    proc = run_command("train", args, "python -m train", tmp_path)
    assert one_error_line(proc, "python -m train") == f"python -m train: error: {says}"
    assert snapshot(tmp_path) == before and not (tmp_path / "runs").exists()
