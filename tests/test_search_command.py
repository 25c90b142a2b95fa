"""``python -m search`` / ``lite-tf search`` (lite_tf/search/launch.py): a search from gin configs
to its folder (results.json, front.csv, front.png, best.gin), resumed by rerunning, and its bad
inputs in one line with nothing written."""

import json
import os

import gin
import pytest
import tensorflow_datasets as tfds

from conftest import configs_by_kind, one_error_line, run_command, run_module, snapshot
from lite_tf.models import create_model
from lite_tf.search import estimate, latency, launch
from lite_tf.search import settings as search_settings
from lite_tf.search.latency import LatencyTable
from lite_tf.search.space import Space, build
from lite_tf.training import config
from lite_tf.training import settings as train_settings

PROG = "lite-tf search"
PHONE = {"kind": "android", "name": "Pixel 8", "os": "Android 15", "cpu": "Tensor G3", "cores": 9,
         "runtime": {"name": "LiteRT", "version": "1.4.0"}}
# 2 blocks x 2 depths per stage, 2 stages: 16 architectures, 10 units.
TINY = Space(skeleton=((16, 1), (24, 2)), blocks=("inverted_residual", "uib"), kernels=(3,),
             expansions=(3,), depths=(1, 2), widths=(1.0,), se=(False,), activations=("relu",),
             resolutions=(32,), head=64)
SPACE_GIN = """
search.space = @search.Space()
search.Space.skeleton = ((16, 1), (24, 2))
search.Space.blocks = ('inverted_residual', 'uib')
search.Space.kernels = (3,)
search.Space.expansions = (3,)
search.Space.depths = (1, 2)
search.Space.widths = (1.0,)
search.Space.se = (False,)
search.Space.activations = ('relu',)
search.Space.resolutions = (32,)
search.Space.head = 64
"""


def all_archs(space):
    dims = space.dimensions()
    names = list(dims)
    found = [{}]
    for n in names:
        found = [{**f, n: v} for f in found for v in dims[n]]
    return [space.choose(f) for f in found]


def by_size(paths):
    """A fake phone: a unit's time grows with its int8 file (the overhead model is the first)."""
    return PHONE, [os.path.getsize(p) / 20000 for p in paths]


@pytest.fixture(scope="module")
def phone_table(tmp_path_factory):
    """A latency table of every unit of TINY, measured on the fake phone; (path, predicted ms of
    each architecture, by key)."""
    path = str(tmp_path_factory.mktemp("table") / "pixel8_1t.json")
    table = LatencyTable.open(path, device=None)
    models = {a.key(): build(a, num_classes=10) for a in all_archs(TINY)}
    table.measure(list(models.values()), by_size)
    return path, {k: table.predict(m) for k, m in models.items()}


def config_file(tmp_path, digits_dir, table, extra=""):
    path = tmp_path / "tiny_search.gin"
    path.write_text(SPACE_GIN + f"""
search.device = 'table'
search.latency_table = {table!r}
search.estimator = 'proxy'
search.strategy = 'constrained'
search.trials = 4
train.dataset = 'sklearn_digits'
train.data_dir = {digits_dir!r}
train.batch_size = 32
""" + extra)
    return str(path)


def search(tmp_path, cfg, *bindings):
    args = ["--config", cfg, "--workdir", str(tmp_path / "out")]
    for b in bindings:
        args += ["--gin_bindings", b]
    return run_command("search", args, PROG, cwd=str(tmp_path))


def test_a_search_writes_its_front_and_best_config_and_a_rerun_resumes(tmp_path, digits_dir,
                                                                       phone_table):
    table, predicted = phone_table
    budget = sorted(predicted.values())[len(predicted) // 2]  # half the space over the budget
    cfg = config_file(tmp_path, digits_dir, table, f"search.budget_ms = {budget}\n")
    proc = search(tmp_path, cfg)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [l for l in proc.stdout.splitlines() if l.startswith("trial ")]
    out = tmp_path / "out"
    doc = json.loads((out / "results.json").read_text())
    assert doc["counts"]["complete"] == 4 and len(lines) == len(doc["trials"])
    for t in doc["trials"]:  # the table's prediction; over the budget never estimated
        key = json.dumps(t["arch"], sort_keys=True, separators=(",", ":"))
        assert t["latency_ms"] == pytest.approx(predicted[key])
        over = t["latency_ms"] > budget
        assert (t["state"] == "pruned") if over else (t["state"] == "complete" or t["pruned"] ==
                                                       "the estimator gave -inf"), t
        assert (t["pruned"] == f"over the budget of {budget:.4g} ms") == over, t
    done = [t for t in doc["trials"] if t["state"] == "complete" and t["same_as"] is None]
    best = max(done, key=lambda t: (t["score"], -t["latency_ms"]))
    assert doc["best"] == best["trial"]
    front = [t for t in done if not any(o["score"] >= t["score"] and o["latency_ms"] <= t["latency_ms"]
                                        and o != t for o in done)]
    assert sorted(doc["front"]) == sorted(t["trial"] for t in front)
    csv = (out / "front.csv").read_text().splitlines()
    assert csv[0] == "trial,score,latency_ms,architecture" and len(csv) == len(front) + 1
    assert (out / "front.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Pixel 8, 1 thread" in proc.stdout

    # best.gin trains the best architecture on the search's data
    config.parse([str(out / "best.gin")], [])
    assert config.query("train.model") == "searched"
    assert config.query("train.model_overrides")["arch"] == best["arch"]
    assert config.query("train.image_size") == 32 and config.query("train.batch_size") == 32
    assert config.query("train.dataset") == "sklearn_digits"
    gin.clear_config()

    # rerun: the study has its trials; nothing is estimated again
    again = search(tmp_path, cfg)
    assert again.returncode == 0, again.stderr[-2000:]
    assert not [l for l in again.stdout.splitlines() if l.startswith("trial ")]
    assert json.loads((out / "results.json").read_text())["trials"] == doc["trials"]
    # more trials asked: the study goes on from where it was
    more = search(tmp_path, cfg, "search.trials = 6")
    assert more.returncode == 0, more.stderr[-2000:]
    grown = json.loads((out / "results.json").read_text())
    assert grown["counts"]["complete"] == 6 and grown["trials"][:len(doc["trials"])] == doc["trials"]
    # another search in the same folder: one line, nothing touched
    before = snapshot(out)
    other = search(tmp_path, cfg, f"search.budget_ms = {budget * 2}")
    assert f"holds a search with search.budget_ms = {budget}" in one_error_line(other, PROG)
    assert snapshot(out) == before


@pytest.mark.slow  # about 12 candidate-epochs of training on the digits
def test_a_search_with_a_pruner_trains_only_the_candidates_ahead_for_all_epochs(tmp_path,
                                                                              digits_dir,
                                                                              phone_table,
                                                                              monkeypatch):
    """Real short training, each epoch's top-1 reported to successive halving. What a few steps on
    the digits score is near chance and in no fixed order, so the scores the pruner sees are set by
    the order of estimation (ahead of every earlier candidate, then behind, in turn) while each
    candidate's real top-1 after every epoch it trained is recorded: the ones behind stop training
    after epoch 1, the ones ahead train all 3."""
    epochs, ahead, real = 3, (0.6, 0.5, 0.7, 0.4, 0.8, 0.3), []

    def ordered(context):
        trained = estimate.short_training(context)

        def estimating(model, arch, report):
            k, curve = len(real), []
            real.append(curve)

            def reporting(epoch, top1):
                curve.append(top1)
                report(epoch, ahead[k] + 0.05 * (epoch - 1))
            trained(model, arch, reporting)
            return ahead[k] + 0.05 * (epochs - 1)
        return estimating

    monkeypatch.setitem(estimate.ESTIMATORS, "train", ordered)
    said = []
    try:
        launch.search([config_file(tmp_path, digits_dir, phone_table[0])],
                      ["search.estimator = 'train'", f"search.epochs = {epochs}",
                       "search.pruner = 'halving'", "search.trials = 6",
                       "search.strategy = 'random'"], str(tmp_path / "out"), said.append)
    finally:
        gin.clear_config()
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    ran = [t for t in doc["trials"] if t["same_as"] is None]
    assert doc["estimated"] == 6 and len(ran) == len(real) >= 2
    for k, (t, curve) in enumerate(zip(ran, real)):
        behind = k % 2 == 1  # below the best earlier candidate after epoch 1
        assert t["state"] == ("pruned" if behind else "complete")
        assert t["halted"] == (1 if behind else None)
        assert len(curve) == len(t["curve"]) == (1 if behind else epochs)  # epochs really trained
        assert all(0 <= v <= 1 for v in curve)
        assert t["curve"] == pytest.approx([ahead[k] + 0.05 * e for e in range(len(curve))])
        assert t["score"] == t["curve"][-1]
    # A repeated architecture (random sampling of a 16-architecture space) is not trained again:
    # it takes the state of the trial it repeats.
    repeats = [t for t in doc["trials"] if t["same_as"] is not None]
    first = {t["trial"]: t for t in ran}
    assert all(t["state"] == first[t["same_as"]]["state"] for t in repeats)
    origin = {t["trial"]: first[t["trial"] if t["same_as"] is None else t["same_as"]]
              for t in doc["trials"]}
    assert doc["counts"]["complete"] == sum(o["halted"] is None for o in origin.values())
    assert any("6/6 estimated" in line for line in said)
    assert any("halted after epoch 1 of 3" in line for line in said)
    best = origin[doc["best"]]
    assert best["halted"] is None and best["score"] == max(t["score"] for t in ran if not t["halted"])


@pytest.mark.slow  # converts and times a zoo model and runs a search: 20 s; the default suite is full
def test_a_budget_given_as_a_zoo_model_is_its_measured_latency_kept_from_the_first_start(
        tmp_path, digits_dir, phone_table, monkeypatch):
    """search.budget_model: the zoo model converted whole and timed by the device's measurer (a
    fake phone here); the budget the study starts with stays when the figure differs later."""
    table, predicted = phone_table
    first = sorted(predicted.values())[len(predicted) // 2]
    timed = []

    def fake_phone(adb, threads):
        def measured(paths):
            timed.append([os.path.getsize(p) for p in paths])
            return PHONE, [first * len(timed)]  # a later start measures another figure
        return measured

    monkeypatch.setattr(latency, "phone_measurer", fake_phone)
    cfg = config_file(tmp_path, digits_dir, table, "search.device = 'phone'\n"
                                                   "search.budget_model = 'mobilenet_v1_025'\n")
    said = []
    try:
        for trials in (4, 6):
            launch.search([cfg], [f"search.trials = {trials}"], str(tmp_path / "out"), said.append)
    finally:
        gin.clear_config()
    zoo = create_model("mobilenet_v1_025", num_classes=10, input_shape=(32, 32, 3))
    assert len(timed) == 2 and timed[0][0] > zoo.count_params()  # the whole int8 model, once a start
    assert f"budget: mobilenet_v1_025 at 32x32 measures {first:.3f} ms on Pixel 8, 1 thread" in said
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    assert doc["budget_ms"] == first and doc["budget_model"] == "mobilenet_v1_025"
    assert doc["counts"]["complete"] == 6
    for t in doc["trials"]:  # the second start still prunes at the first figure
        assert (t["pruned"] == f"over the budget of {first:.4g} ms") == (t["latency_ms"] > first), t


@pytest.mark.parametrize("bindings, says", [
    (("search.budget_model = 'shufflenet_v2_050'",),
     "search.budget_model is measured on the device, and 'table' has none: set search.budget_ms"),
    (("search.budget_model = 'shufflenet_v2_050'", "search.budget_ms = 1.0"),
     "search.budget_ms and search.budget_model both set the budget: bind one"),
    (("search.budget_model = 'mobilenet_v9'", "search.device = 'phone'"), "mobilenet_v9"),
])
def test_a_bad_budget_model_is_one_line_exit_2_and_nothing_written(bindings, says, tmp_path,
                                                                   digits_dir, phone_table):
    cfg = config_file(tmp_path, digits_dir, phone_table[0])
    before = snapshot(tmp_path)
    proc = search(tmp_path, cfg, *bindings)
    assert says in one_error_line(proc, PROG)
    assert snapshot(tmp_path) == before and not (tmp_path / "out").exists()


@pytest.mark.parametrize("binding, says", [
    ("search.device = 'gpu'", "search.device must be one of host, phone, table"),
    ("search.Space.blocks = ()", "the search space is empty: no choices for s1_block"),
    ("search.budget_ms = 0.001", "search.budget_ms = 0.001 is below the space's fastest candidate"),
    ("search.strategy = 'grid'", "search.strategy must be one of pareto, constrained, random"),
    ("train.model = 'mobilenet_v2_100'", "train.model is bound: a search trains its own candidates"),
    ("search.storage = 'sqlite:////no/such/folder/study.db'", "cannot open the search's storage"),
    ("search.latency_table = '/no/such/table.json'", "search.latency_table /no/such/table.json "
                                                     "does not exist"),
    ("search.epochs = 0", "search.epochs must be >= 1, got 0"),
    ("search.pruner = 'median'", "search.pruner must be one of halving, hyperband"),
    ("search.pruner = 'halving'", "search.pruner stops candidates between epochs of training: it "
                                  "needs search.estimator = 'train' and search.epochs >= 2"),
    ("search.trails = 3", "Configurable 'search' doesn't have a parameter named 'trails'"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(binding, says, tmp_path, digits_dir,
                                                          phone_table):
    cfg = config_file(tmp_path, digits_dir, phone_table[0])
    before = snapshot(tmp_path)
    proc = search(tmp_path, cfg, binding)
    assert says in one_error_line(proc, PROG)
    assert snapshot(tmp_path) == before and not (tmp_path / "out").exists()


def test_a_space_the_supernet_cannot_hold_is_one_line_before_anything_is_written(tmp_path,
                                                                                 digits_dir,
                                                                                 phone_table):
    cfg = config_file(tmp_path, digits_dir, phone_table[0])
    before = snapshot(tmp_path)
    proc = search(tmp_path, cfg, "search.estimator = 'supernet'", "search.Space.resolutions = (32, 40)")
    assert one_error_line(proc, PROG).endswith(
        "the supernet estimator takes one resolution; search.Space.resolutions has 2")
    assert snapshot(tmp_path) == before and not (tmp_path / "out").exists()


def test_a_table_of_another_device_is_one_line(tmp_path, digits_dir, phone_table):
    cfg = config_file(tmp_path, digits_dir, phone_table[0])
    proc = search(tmp_path, cfg, "search.device = 'host'")
    assert "was measured on another device (Pixel 8" in one_error_line(proc, PROG)
    assert not (tmp_path / "out").exists()


def test_a_file_that_is_not_a_latency_table_is_one_line(tmp_path, digits_dir):
    bogus = tmp_path / "table.json"
    bogus.write_text(json.dumps({"schema": "lite_tf.benchmark/2", "results": []}))
    cfg = config_file(tmp_path, digits_dir, str(bogus))
    proc = search(tmp_path, cfg)
    assert "is not a lite_tf.latency_table/1 latency table" in one_error_line(proc, PROG)
    assert not (tmp_path / "out").exists()


def test_the_fastest_candidates_are_the_cheapest_choices_per_block():
    fast = launch.fastest(Space(kernels=(5, 3), depths=(2, 1), widths=(1.25, 0.75),
                                activations=("hard_swish", "relu"), resolutions=(64, 32)))
    assert [a.stages[0].block for a in fast] == ["inverted_residual", "sandglass", "uib"]
    for a in fast:
        assert a.resolution == 32 and {(s.kernel, s.depth, s.se, s.activation, s.expansion)
                                        for s in a.stages} == {(3, 1, False, "relu", 3)}


def test_python_m_search_is_the_command(tmp_path):
    proc = run_module("search", ["--help"], cwd=str(tmp_path))
    assert proc.returncode == 0 and proc.stdout.startswith("usage: python -m search")


@pytest.mark.parametrize("name", configs_by_kind()[2])
def test_search_configs_parse_and_say_what_they_do(name):
    path = config.resolve_config(name)
    header = " ".join(l for l in open(path).read().splitlines() if l.startswith("#"))
    assert header.startswith(f"# python -m search --config {name}")
    assert "Expected:" in header and "CPU cores" in header
    config.parse([path], [])
    s, training = search_settings.from_gin(), train_settings.from_gin()
    s.space.check()
    assert training.model.model is None and s.trials >= 1
    assert tfds.builder(training.data.dataset).info.supervised_keys == ("image", "label")


@pytest.mark.slow
def test_the_smoke_search_measures_on_this_host_and_its_best_trains_and_exports(tmp_path,
                                                                                digits_dir):
    """search_digits as shipped (a smaller space: one block per stage), with an empty latency
    table: the host measures the blocks, candidates train; best.gin then trains with
    python -m train and exports to int8 with python -m export."""
    env = {"LITE_TF_CACHE": str(tmp_path / "cache")}
    args = ["--config", "search_digits", "--workdir", str(tmp_path / "out")]
    for b in ("search.trials = 2", "search.Space.depths = (1,)", "search.epochs = 1",
              "search.budget_ms = 1.0", f"train.data_dir = {digits_dir!r}"):
        args += ["--gin_bindings", b]
    proc = run_command("search", args, PROG, cwd=str(tmp_path), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "latency table: units" in proc.stdout and "1 thread" in proc.stdout
    table = json.loads((tmp_path / "cache" / "latency" / "host_1t.json").read_text())
    assert table["device"]["kind"] == "host" and len(table["entries"]) >= 6
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    assert doc["counts"]["complete"] == 2
    assert all(0 <= t["score"] <= 1 for t in doc["trials"] if t["state"] == "complete")

    run = tmp_path / "best_run"
    trained = run_command("train", ["--config", str(tmp_path / "out" / "best.gin"), "--workdir",
                                    str(run), "--gin_bindings", "train.epochs = 1",
                                    "--gin_bindings", f"train.data_dir = {digits_dir!r}",
                                    "--gin_bindings", "train.saved_model = False"],
                          "python -m train", cwd=str(tmp_path))
    assert trained.returncode == 0, trained.stderr[-3000:]
    best = next(t for t in doc["trials"] if t["trial"] == doc["best"])
    assert json.loads((run / "run.json").read_text())["settings"]["model_overrides"]["arch"] == \
        best["arch"]
    exported = run_command("export", ["--int8", "--workdir", str(run)], "python -m export",
                           cwd=str(tmp_path))
    assert exported.returncode == 0, exported.stderr[-3000:]
    assert list((run / "export").glob("*_int8.tflite"))
