"""The search's latency table (lite_tf/search/latency.py): units measured once per key, saved as a
``lite_tf.latency_table/1`` file after each batch, a model predicted as the sum of its units, and a
table of another device, thread count or schema refused in one line."""

import json

import pytest

from lite_tf.deploy.benchmark.results import device as host_device
from lite_tf.errors import InputError
from lite_tf.models import create_model
from lite_tf.models.searched import Architecture, Stage
from lite_tf.models.units import units
from lite_tf.search import latency
from lite_tf.deploy.phone import Adb
from lite_tf.search.latency import LatencyTable, phone_measurer
from test_phone import adb, java_core  # noqa: F401 (the fake adb and the app's Java core)
from lite_tf.search.space import build

OVERHEAD, UNIT = 0.25, 2.0
PHONE = {"kind": "android", "name": "Pixel 8", "os": "Android 15", "cpu": "Tensor G3", "cores": 9,
         "runtime": {"name": "LiteRT", "version": "1.4.0"}}


class FakeDevice:
    """A phone that times the first file of each batch (the overhead model) at OVERHEAD ms and
    every unit at UNIT ms; fails at batch ``fail_at`` (a measurement killed midway)."""

    def __init__(self, fail_at=None, device=PHONE):
        self.batches, self.fail_at, self.device = [], fail_at, device

    def __call__(self, paths):
        if len(self.batches) == self.fail_at:
            raise KeyboardInterrupt
        self.batches.append(len(paths))
        return self.device, [OVERHEAD] + [UNIT] * (len(paths) - 1)


TINY = Architecture(32, 8, (Stage("inverted_residual", 3, 3, 1, 16, 2, False, "relu"),), 32)


@pytest.fixture(scope="module")
def models():
    """MobileNetV2-0.35 (17 blocks, several equal) and a small searched architecture."""
    small = Architecture(32, 16, (Stage("sandglass", 5, 4, 2, 24, 2, True, "hard_swish"),), 64)
    return [create_model("mobilenet_v2_035", input_shape=(32, 32, 3), num_classes=10),
            build(small, num_classes=10)]


def test_each_key_is_measured_once_and_a_model_is_the_sum_of_its_units(models, tmp_path,
                                                                       monkeypatch):
    path = tmp_path / "table.json"
    table = LatencyTable.open(str(path), device=None)  # whichever device measures it
    device = FakeDevice()
    keys = {u.key for m in models for u in units(m)}
    small = {u.key for u in units(models[1])}
    assert table.measure(models[1:], device) == len(small) == 4  # converted: ops recorded
    monkeypatch.setattr(latency, "_write", lambda model, path: ([], []))  # the fake device reads none
    assert table.measure(models, device) == len(keys - small)
    assert sum(device.batches) - len(device.batches) == len(keys)  # less the overhead models
    assert table.measure(models, device) == 0 and table.missing(models[0]) == []
    mnv2 = units(models[0])
    assert len({u.key for u in mnv2}) < len(mnv2)  # equal blocks: fewer keys than units
    assert table.predict(models[0]) == pytest.approx(OVERHEAD + len(mnv2) * (UNIT - OVERHEAD))
    saved = json.loads(path.read_text())
    assert saved["schema"] == "lite_tf.latency_table/1" and saved["overhead_ms"] == OVERHEAD
    entry = saved["entries"][units(models[1])[1].key]
    assert entry["unit"] == "s1b1" and entry["input"] == [16, 16, 16] and entry["output"] == [8, 8, 24]
    # Converted as the export converts: its hard-swish rewritten into ops XNNPACK runs.
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "MUL"} <= set(entry["ops"]) and "HARD_SWISH" not in entry["ops"]
    assert entry["outside_xnnpack"] == []
    assert saved["device"] == PHONE
    reopened = LatencyTable.open(str(path), device=PHONE)
    assert reopened.predict(models[1]) == table.predict(models[1])
    other = {**PHONE, "cpu": "Snapdragon 8 Gen 3"}
    with pytest.raises(InputError, match=r"measured on another device \(Pixel 8: cpu 'Tensor G3', "
                                         r"here 'Snapdragon 8 Gen 3'\)"):
        reopened.measure([build(TINY, num_classes=10)], FakeDevice(device=other))


def test_a_killed_measurement_keeps_its_finished_batches(models, tmp_path, monkeypatch):
    monkeypatch.setattr(latency, "_write", lambda model, path: ([], []))  # the fake device reads no file
    path = str(tmp_path / "table.json")
    with pytest.raises(KeyboardInterrupt):
        LatencyTable.open(path, device=None).measure(models, FakeDevice(fail_at=1))
    table = LatencyTable.open(path, device=PHONE)
    assert len(table.entries) == latency.BATCH
    device = FakeDevice()
    table.measure(models, device)
    assert sum(device.batches) - len(device.batches) == len({u.key for m in models
                                                             for u in units(m)}) - latency.BATCH


@pytest.mark.parametrize("passes", [["prelu_as_depthwise"], None])
def test_a_table_measured_with_other_export_passes_is_measured_again(models, tmp_path, monkeypatch,
                                                                     passes):
    """A new export pass changes what some units become (MobileFaceNet's 7x7 depthwise head took
    75-100x longer before ``large_depthwise_in_bands`` on an Intel Xeon): a table measured with
    other passes, or one that does not name them, keeps none of its entries, says so once, and
    does not take them back from the file when saved."""
    monkeypatch.setattr(latency, "_write", lambda model, path: ([], []))  # the fake device reads none
    path = tmp_path / "table.json"
    LatencyTable.open(str(path), device=None).measure(models[1:], FakeDevice())
    document = json.loads(path.read_text())
    assert document["passes"] == latency.PASSES and "large_depthwise_in_bands" in latency.PASSES
    assert "small_groups_merged" not in latency.PASSES  # off by default: units convert without it
    measured = len(document["entries"])
    if passes is None:
        del document["passes"]
    else:
        document["passes"] = passes
    path.write_text(json.dumps(document))
    table = LatencyTable.open(str(path), device=PHONE)
    assert table.entries == {} and table.stale == measured
    with pytest.raises(InputError, match=rf"unit stem is not in the latency table yet \(its {measured} "
                                         r"entries were measured with other export passes: measure"):
        table.predict(models[1])  # a table used as it is (device 'table') says why in its one line
    said, device = [], FakeDevice()
    assert table.measure(models[1:], device, progress=said.append) == measured
    assert said[0] == (f"latency table: its {measured} entries were measured with other export "
                       f"passes than these ({', '.join(latency.PASSES)}): measuring again")
    again = json.loads(path.read_text())
    assert again["passes"] == latency.PASSES and len(again["entries"]) == measured
    assert LatencyTable.open(str(path), device=PHONE).stale == 0


def test_a_unit_not_in_the_table_is_one_line(models, tmp_path):
    with pytest.raises(InputError, match=r"^mobilenet_v2_035: unit stem is not in the latency table"):
        LatencyTable.open(str(tmp_path / "t.json")).predict(models[0])


@pytest.mark.parametrize("change, error", [
    (lambda d: {**d, "device": {**d["device"], "cpu": "Snapdragon 8 Gen 3"}},
     "was measured on another device"),
    (lambda d: {**d, "threads": 4}, "was measured at 4 thread(s), not 1"),
    (lambda d: {**d, "schema": "lite_tf.latency_table/0"},
     "is not a lite_tf.latency_table/1 latency table (schema: 'lite_tf.latency_table/0')"),
    (lambda d: {**d, "entries": {"k": {"ms": -1}}}, "is not a lite_tf.latency_table/1 latency table: ['entries']['k']"),
    (lambda d: "not a table", "is not a lite_tf.latency_table/1 latency table (schema: 'str')"),
])
def test_a_table_of_another_device_threads_or_schema_is_one_line(tmp_path, change, error):
    path = tmp_path / "table.json"
    entry = {"ms": 0.5, "unit": "s1b1", "model": "m", "input": [8, 8, 16], "output": [8, 8, 16],
             "ops": ["CONV_2D"], "measured": "2026-12-02"}
    table = LatencyTable(str(path), host_device(), 1, [0.01], {"0123456789abcdef": entry})
    table.save()
    assert LatencyTable.open(str(path)).entries == table.entries  # as written, it opens
    path.write_text(json.dumps(change(table.document())))
    with pytest.raises(InputError) as e:
        LatencyTable.open(str(path))
    assert error in str(e.value) and "\n" not in str(e.value)


def test_units_measured_on_this_host(tmp_path):
    """The real measuring code, on a three-unit model: every unit timed, ops recorded."""
    model = build(TINY, num_classes=10)
    table = LatencyTable.open(str(tmp_path / "table.json"))
    assert table.measure([model]) == 3
    assert 0 < table.overhead_ms < min(e["ms"] for e in table.entries.values())
    assert [e["unit"] for e in table.entries.values()] == ["stem", "s1b1", "head"]
    assert "SOFTMAX" in table.entries[units(model)[-1].key]["ops"]
    assert table.predict(model) > 0


def test_units_measured_on_a_phone_through_the_benchmark_app(adb, java_core, tmp_path):
    """The phone tool's flow (push, the app headless, pull) on the fake adb and the app's Java
    core with its fake backend: one app run per round, the table of the phone's device."""
    adb.app(["java", "-cp", java_core, "dev.litetf.bench.FakePhone"])
    (adb.folder / "installed").write_text("apk")
    path = str(tmp_path / "phone.json")
    table = LatencyTable.open(path, device=None)
    assert table.measure([build(TINY, num_classes=10)], phone_measurer(Adb(adb.path), 1, runs=5)) == 3
    assert table.device["kind"] == "android" and table.device["name"] == "Fake phone"
    assert all(e["ms"] > 0 for e in table.entries.values())
    starts = [c for c in adb.calls() if "am start" in " ".join(c)]
    assert len(starts) == latency.ROUNDS and "--es threads 1 --es delegates xnnpack" in starts[0][-1]
    assert LatencyTable.open(path, device=None).entries == table.entries
    with pytest.raises(InputError, match="measured on another device .Fake phone"):
        LatencyTable.open(path)  # this host
