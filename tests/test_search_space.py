"""The architecture search's space (lite_tf/search/space.py) and its candidates, which build
through the zoo's builder as the model ``searched`` (lite_tf/models/searched.py)."""

import json
import random

import numpy as np
import optuna
import pytest
from hypothesis import given, settings, strategies as st

from lite_tf.backend import keras
from lite_tf.compression.quantize import quantize_model
from lite_tf.deploy.convert import convert
from lite_tf.deploy.litert import TFLiteModel, tensor_types
from lite_tf.errors import InputError
from lite_tf.models import create_model, list_families, list_models
from lite_tf.models.searched import BASELINE, Architecture, Stage
from lite_tf.search.space import Space, build
from test_contract import is_builtin_or_registered
from test_quantization import INTEGER_TYPES, cosines

# Every block, kernel, SE and activation, both identity multipliers; small inputs keep 50 affordable.
SPACE = Space(resolutions=(32, 40), identity_multipliers=(1.0, 0.5))
SHALLOW = Space(depths=(1,), resolutions=(32,), identity_multipliers=(1.0, 0.5))
SAMPLED, SLOW = 50, 3  # 0-2 in the slow suite (CI), 3-49 in the sweep: about half a minute each


def test_the_space_counts_its_architectures_and_samples_each_dimension():
    dims = SPACE.dimensions()
    assert len(dims) == 2 + 7 * len(SPACE.skeleton)
    assert SPACE.size() == 2 * 2 * (3 * 3 * 3 * 4 * 3 * 2 * 2) ** 6
    archs = [SPACE.sample(random.Random(seed)) for seed in range(SAMPLED)]
    assert len({a.key() for a in archs}) == SAMPLED
    seen = {(f, getattr(s, f)) for a in archs for s in a.stages for f in ("block", "kernel", "se",
                                                                          "activation")}
    assert {v for f, v in seen if f == "block"} == {"inverted_residual", "sandglass", "uib"}
    assert {v for f, v in seen if f == "kernel"} == {3, 5, 7}
    assert {a.resolution for a in archs} == {32, 40}


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_an_architecture_survives_its_dict_and_json(seed):
    arch = SPACE.sample(random.Random(seed))
    assert Architecture.from_dict(json.loads(json.dumps(arch.to_dict()))) == arch
    assert all(s.channels % 8 == 0 for s in arch.stages)


def test_optuna_suggests_the_architecture_of_its_parameters():
    values = SPACE.draw(random.Random(7))
    assert SPACE.suggest(optuna.trial.FixedTrial(values)) == SPACE.choose(values)


@pytest.mark.parametrize("change, error", [
    ({"blocks": ()}, "the search space is empty: no choices for s1_block"),
    ({"skeleton": ()}, "the search space is empty: search.Space.skeleton has no stages"),
    ({"kernels": (3, 4)}, "architecture: stage 1: kernel must be odd, 1-9, got 4"),
    ({"blocks": ("inverted_residual", "ghost")}, "architecture: stage 1: block must be one of"),
    ({"activations": ("relu", "gelu")}, "architecture: stage 1: activation must be one of"),
    ({"resolutions": (4,)}, "architecture: resolution must be an integer >= 8, got 4"),
    ({"identity_multipliers": (0.0,)}, "architecture: identity_multiplier must be in (0, 1]"),
])
def test_a_bad_space_is_one_line(change, error):
    with pytest.raises(InputError) as e:
        Space(**change).check()
    assert str(e.value).startswith(error) and "\n" not in str(e.value)


def test_a_bad_architecture_dict_is_one_line():
    d = BASELINE.to_dict()
    with pytest.raises(InputError, match="not an architecture of the search space"):
        Architecture.from_dict({**d, "stages": [{**d["stages"][0], "colour": "red"}]})
    with pytest.raises(InputError, match="stage 2: stride must be 1 or 2, got 3"):
        Architecture.from_dict({**d, "stages": [d["stages"][0], {**d["stages"][1], "stride": 3}]})
    with pytest.raises(InputError, match="not an architecture"):
        create_model("searched", arch={"stem": 16})


def test_searched_is_buildable_by_name_but_not_a_zoo_family():
    assert "searched" not in list_models() and "searched" not in list_families()
    model = create_model("searched", input_shape=(32, 32, 3), num_classes=10)
    assert model.output_shape == (None, 10)
    assert [layer.name for layer in model.layers if layer.name.startswith("s6b")][0] == "s6b1_expand"


@pytest.mark.parametrize("block", ["inverted_residual", "sandglass", "uib"])
def test_a_stage_with_hard_swish_gates_its_se_with_hard_sigmoid_as_mobilenet_v3(block):
    def gates(activation):
        stage = Stage(block, 3, 4, 2, 32, 1, True, activation)
        arch = Architecture(32, 16, (stage,), 64)
        model = build(arch, num_classes=10)
        return {type(model.get_layer(f"s1b{b}_se_gate")).__name__ for b in (1, 2)}

    assert gates("hard_swish") == {"HardSigmoid"}
    assert gates("relu") == {"Activation"}


@pytest.mark.parametrize("space, seed", [
    pytest.param(SHALLOW, 0, id="shallow-0"),  # the default suite: one block per stage, quicker
    *(pytest.param(SPACE, s, marks=pytest.mark.slow if s < SLOW else pytest.mark.sweep, id=str(s))
      for s in range(SAMPLED))])
def test_a_random_candidate_builds_trains_with_qat_and_converts_to_integer_only_int8(space, seed, rng):
    """As the zoo's models (tests/test_quantization.py): a few float steps (BatchNorm statistics
    that are not defaults), a QAT step, then full-integer int8 agreeing with the float model."""
    arch = space.sample(random.Random(seed))
    model = build(arch, num_classes=10, classifier_activation=None, bn_momentum=0.5)
    names = [layer.name for layer in model.layers]
    assert len(names) == len(set(names))
    assert [n for n in names if not is_builtin_or_registered(model.get_layer(n))] == []
    r = arch.resolution
    x, y = rng.rand(16, r, r, 3).astype("float32"), rng.randint(0, 10, 16)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(keras.optimizers.SGD(0.01), loss, run_eagerly=True)  # a few steps: not traced
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    qat = quantize_model(model)
    qat.compile(keras.optimizers.SGD(1e-3), loss, run_eagerly=True)
    assert np.isfinite(qat.fit(x[:8], y[:8], batch_size=8, verbose=0).history["loss"][0])

    tflite = convert(model, "int8", lambda: (x[i:i + 1] for i in range(len(x))), io_type="int8")
    assert [op for op in tensor_types(tflite) if op[1] not in INTEGER_TYPES] == []
    cosine = cosines(TFLiteModel(tflite)(x[:8]), model.predict(x[:8], verbose=0))
    print(f"candidate {seed}: int8-vs-float cosine, min of 8 samples: {cosine.min():.4f}")
    assert cosine.min() >= 0.99, cosine
