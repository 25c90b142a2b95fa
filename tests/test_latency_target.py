"""Latency targets (lite_tf/compression/latency_target.py): the NetAdapt-style greedy walk, and the
channel-pruning and low-rank stages driving it through the latency table."""

import os

import numpy as np
import pytest

from lite_tf.backend import keras
from lite_tf.compression import channel_prune as cp
from lite_tf.compression import latency_target as lt
from lite_tf.compression import low_rank
from lite_tf.errors import InputError
from lite_tf.models import create_model
from lite_tf.search import latency


def toy(saving: dict, cost: dict, stalls: dict | None = None):
    """A walk over sizes {name: level}: each level of ``name`` saves ``saving[name]`` ms and costs
    ``cost[name]`` top-1; levels listed in ``stalls[name]`` run as slow as the full size."""
    stalls = stalls or {}

    def ms(sizes):
        return 1.0 + sum(saving[n] * (4 if s in stalls.get(n, ()) else s) for n, s in sizes.items())

    def predict(models):
        return [ms(sizes) for sizes in models]

    def score(sizes):
        lost = sum(cost[n] * (4 - s) for n, s in sizes.items())
        return 0.9 - lost, 0.5 + lost

    return (lambda n, s: s - 1 if s > 1 else None), (lambda sizes: dict(sizes)), predict, score


def test_the_walk_takes_the_least_top1_lost_per_millisecond_saved_until_the_target():
    # a loses more per step than b but saves twice the time: per millisecond it is the cheaper one.
    smaller, build, predict, score = toy({"a": 1.0, "b": 0.5}, {"a": 0.02, "b": 0.015})
    path = lt.shrink({"a": 4, "b": 4}, smaller, build, predict, score, target_ms=2.5,
                     progress=lambda line: None)
    assert [p.changed for p in path[1:]] == ["a", "a", "a", "b", "b", "b"]
    assert path[-1].ms == pytest.approx(2.5) and path[-2].ms > 2.5
    assert path[-1].sizes == {"a": 1, "b": 1}


def test_a_level_that_saves_nothing_is_passed_over_and_an_unreachable_target_is_one_line():
    # a's level 3 measures no faster than level 4: a's proposal goes on to level 2.
    smaller, build, predict, score = toy({"a": 1.0, "b": 0.5}, {"a": 0.02, "b": 0.015}, {"a": (3,)})
    path = lt.shrink({"a": 4, "b": 4}, smaller, build, predict, score, target_ms=5.0,
                     progress=lambda line: None)
    assert path[1].changed == "a" and path[1].sizes["a"] == 2
    with pytest.raises(InputError, match=r"cannot reach 1.2000 ms: .* predicted 2.5000 ms"):
        lt.shrink({"a": 4, "b": 4}, smaller, build, predict, score, target_ms=1.2,
                  progress=lambda line: None)


def test_an_unreachable_target_is_known_before_the_first_step():
    # a's smallest level runs as slow as its full size, its level 2 is its fastest: the fastest
    # model is a=2, b=1 (3.5 ms), which the walk reaches; under that, no step is taken.
    smaller, build, predict, score = toy({"a": 1.0, "b": 0.5}, {"a": 0.02, "b": 0.015}, {"a": (1,)})
    steps = []
    path = lt.shrink({"a": 4, "b": 4}, smaller, build, predict, score, target_ms=3.5,
                     progress=steps.append)
    assert path[-1].ms == pytest.approx(3.5) and path[-1].sizes == {"a": 2, "b": 1}
    steps.clear()
    with pytest.raises(InputError, match=r"cannot reach 3.4000 ms: .* predicted 3.5000 ms"):
        lt.shrink({"a": 4, "b": 4}, smaller, build, predict, score, target_ms=3.4,
                  progress=steps.append)
    assert steps == []


class Toy:
    """A predictor over toy sizes (see ``toy``)."""

    device = "toy"

    def __init__(self, predict):
        self.many = predict

    def __call__(self, sizes):
        return self.many([sizes])[0]


def test_a_result_measured_over_the_target_walks_on_until_it_measures_within_tolerance(monkeypatch):
    smaller, build, predict, score = toy({"a": 1.0, "b": 0.5}, {"a": 0.02, "b": 0.015})
    monkeypatch.setattr(lt.LatencyTarget, "predictor", lambda self, progress=None: Toy(predict))
    monkeypatch.setattr(lt, "scorer", lambda images, labels: score)
    # The device runs every model 1 ms slower than the table predicts: a fraction of the
    # model's latency reached by the table is over the target when measured.
    ms = Toy(predict)
    monkeypatch.setattr(lt, "measured", lambda base, model, threads, rounds: (ms(base) + 1, ms(model) + 1))
    start = {"a": 4, "b": 4}
    lines = []
    sizes, walk = lt.reach(start, start, smaller, build, None, 0.5, data(), lt.LatencyTarget(),
                           lines.append)
    base_real = ms(start) + 1  # 8 ms measured
    first, last = walk["measured"][0], walk["result"]
    assert walk["target_ms"] == 3.5 and first["predicted_ms"] == 3.5 and first["measured_ms"] == 4.5
    assert first["wanted_ms"] == last["wanted_ms"] == 0.5 * base_real
    assert last["measured_ms"] <= 4.0 * 1.05 and len(walk["measured"]) >= 2
    assert ms(sizes) + 1 == last["measured_ms"] and walk["ms_after"] == ms(sizes)
    assert any(line.startswith("latency target: step 4 measured 4.5000 ms (0.562x") for line in lines)
    # tolerance None trusts the table: one walk, no measurement.
    sizes, walk = lt.reach(start, start, smaller, build, None, 0.5, data(),
                           lt.LatencyTarget(tolerance=None), lines.append)
    assert walk["measured"] == [] and walk["result"] is None and walk["ms_after"] == 3.5


def test_a_result_measured_far_under_the_target_goes_back_to_the_first_step_within(monkeypatch):
    smaller, build, predict, score = toy({"a": 1.0, "b": 0.5}, {"a": 0.02, "b": 0.015})
    monkeypatch.setattr(lt.LatencyTarget, "predictor", lambda self, progress=None: Toy(predict))
    monkeypatch.setattr(lt, "scorer", lambda images, labels: score)
    ms = Toy(predict)
    # The device runs every model 1 ms faster than predicted: the walk to half the predicted
    # latency (3.5 of 7 ms) measures 2.5 of 6 ms, far under the 3 ms wanted.
    monkeypatch.setattr(lt, "measured", lambda base, model, threads, rounds: (ms(base) - 1, ms(model) - 1))
    start = {"a": 4, "b": 4}
    sizes, walk = lt.reach(start, start, smaller, build, None, 0.5, data(), lt.LatencyTarget(), print)
    assert sizes == {"a": 1, "b": 4} and walk["ms_after"] == 4.0 and len(walk["steps"]) == 3
    assert walk["result"]["measured_ms"] == 3.0 and walk["result"]["wanted_ms"] == 3.0
    assert [c["step"] for c in walk["measured"]] == [2, 3, 4]  # the walk's end, then bisection


def test_a_target_not_below_the_model_is_one_line():
    with pytest.raises(InputError, match="the latency target 3.0000 ms is not below the model's "
                                         "predicted 2.0000 ms on host"):
        lt.resolve(3.0, None, 2.0, "host")
    assert lt.resolve(None, 0.5, 2.0, "host") == 1.0


@pytest.fixture
def by_file_size(monkeypatch):
    """The host measurer replaced by the .tflite's size in MB (fewer channels or a lower rank:
    smaller, so 'faster'), so the walk is deterministic and quick."""
    def measurer(threads):
        return lambda paths: (latency.host_device(), [os.path.getsize(p) / 1e6 for p in paths])
    monkeypatch.setattr(latency, "host_measurer", measurer)


def data(n=64, size=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, size, size, 3)).astype("float32")
    return [(x, keras.utils.to_categorical(np.arange(n) % 10, 10))]


@pytest.mark.slow  # a walk of a few steps, each building and converting its proposals
@pytest.mark.parametrize("stage", ["channel_prune", "low_rank"])
def test_a_stage_reaches_its_target_on_the_table_one_level_at_a_time(stage, by_file_size, tmp_path):
    model = create_model("mobilenet_v1_025", num_classes=10, input_shape=(32, 32, 3))
    levels = 2 if stage == "channel_prune" else 4  # low-rank: half a square 1x1's rank saves nothing
    where = lt.LatencyTarget(table=str(tmp_path / "table.json"), levels=levels, samples=64, tolerance=None)
    lines = []
    if stage == "channel_prune":
        config = cp.ChannelPruning(target_latency=0.95)
        thin, walk = cp.by_latency(model, config, data(), lines.append, where)
    else:
        config = low_rank.LowRank(target_latency=0.95)
        factors, walk = low_rank.by_latency(model, config, data(), lines.append, where)
        thin = low_rank.factorize(model, factors)
    predict = where.predictor()
    base, after = predict(model), predict(thin)
    assert walk["ms_before"] == pytest.approx(base) and walk["ms_after"] == pytest.approx(after)
    assert walk["target_ms"] == pytest.approx(config.target_latency * base)
    # The first point at or under the target: the one before it is still over.
    assert after <= walk["target_ms"] < ([base] + [s["ms"] for s in walk["steps"]])[-2]
    steps = [line for line in lines if line.startswith("latency target: step ")]
    assert len(steps) == len(walk["steps"]) >= 1 and steps[0].startswith("latency target: step 1: ")
    sizes = {}
    for s in walk["steps"]:  # each step takes one size one level (or more) down
        assert s["size"] < sizes.get(s["changed"], levels if stage == "low_rank" else 1e9)
        sizes[s["changed"]] = s["size"]
    table = latency.LatencyTable.open(where.table)
    assert not table.missing(thin) and not table.missing(model)
    out = thin(data()[0][0][:4])
    assert out.shape == (4, 10) and np.isfinite(np.asarray(out)).all()


def test_a_table_of_another_model_or_device_is_one_line(by_file_size, tmp_path):
    model = create_model("mobilenet_v1_025", num_classes=10, input_shape=(32, 32, 3))
    other = create_model("mobilenet_v1_025", num_classes=10, input_shape=(64, 64, 3))
    path = str(tmp_path / "table.json")
    table = latency.LatencyTable.open(path)
    table.measure([other], latency.host_measurer(1))
    config = cp.ChannelPruning(target_latency=0.5)
    with pytest.raises(InputError, match=r"lacks \d+ unit\(s\) of mobilenet_v1_025 .* measured "
                                         r"for other models"):
        cp.by_latency(model, config, data(), print, lt.LatencyTarget(device="table", table=path))
    doc = open(path).read().replace(f'"cores": {latency.host_device()["cores"]}', '"cores": 96')
    with open(path, "w") as f:
        f.write(doc)
    with pytest.raises(InputError, match="was measured on another device"):
        cp.by_latency(model, config, data(), print, lt.LatencyTarget(table=path))


def test_a_target_above_the_model_is_one_line_before_any_step(by_file_size, tmp_path):
    model = create_model("mobilenet_v1_025", num_classes=10, input_shape=(32, 32, 3))
    where = lt.LatencyTarget(table=str(tmp_path / "table.json"), samples=8, tolerance=None)
    lines = []
    with pytest.raises(InputError, match=r"^the latency target 1000.0000 ms is not below the model's "
                                         r"predicted 0\.\d+ ms on "):
        low_rank.by_latency(model, low_rank.LowRank(target_ms=1e3), data(), lines.append, where)
    assert not any(line.startswith("latency target: step") for line in lines)


def test_one_target_at_a_time():
    with pytest.raises(InputError, match="takes one target, got target_macs and target_latency"):
        cp.ChannelPruning(target_macs=0.5, target_latency=0.5).check()
    with pytest.raises(InputError, match="low_rank.LowRank takes one target, got target_macs and target_ms"):
        low_rank.LowRank(target_macs=0.5, target_ms=1.0).check()
    assert not low_rank.LowRank(target_ms=1.0, ranks={"conv": 8}).by_latency  # explicit ranks win
