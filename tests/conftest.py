import lite_tf  # noqa: F401  (selects tf_keras before TensorFlow is imported anywhere)

import contextlib
import importlib.util
import io
import json
import os
import pathlib
import subprocess
import sys

import gin
import numpy as np
import pytest
from filelock import FileLock

from lite_tf import commands
from lite_tf.deploy.benchmark import measure
from lite_tf.models import create_model, get_entry, list_families, list_models

# Every latency the tests take (theirs and their subprocesses') is timed for a tenth of the usual
# durations: the tests check what a figure is; the benchmarks measure it.
os.environ.setdefault(measure.SCALE_VARIABLE, "0.1")


def one_per_family() -> list[str]:
    """The smallest registered variant of each family (the default suite's representatives): the
    narrowest, and of those the one with the fewest reference MACs."""
    from lite_tf.models.reference import REFERENCES

    return [min(list_models(f), key=lambda n: (get_entry(n).settings.get("width", 1.0),
                                               REFERENCES[n].macs))
            for f in list_families()]


def widest_per_family() -> list[str]:
    """Each family's widest variant (the other end from ``one_per_family``): widths change channel
    counts, not the graph, so the two ends of each family stand for the widths between."""
    return sorted(max(list_models(f), key=lambda n: (get_entry(n).settings.get("width", 1.0), n))
                  for f in list_families())


def sampled(names, slow: set[str] | None = None, ends: bool = False) -> list:
    """``names`` as pytest parameters: the families' representatives (``one_per_family``) in the
    default suite unless listed in ``slow``, every other name in the slow suite; with ``ends``,
    only each family's widest joins them there and the widths between are the ``sweep``
    (``python -m pytest -m sweep``)."""
    assert slow is None or slow <= set(names), slow - set(names)
    slow = set(names) - set(one_per_family()) if slow is None else \
        slow | (set(names) - set(one_per_family()))
    between = slow - set(one_per_family()) - set(widest_per_family()) if ends else set()
    return [pytest.param(n, marks=pytest.mark.sweep) if n in between else
            pytest.param(n, marks=pytest.mark.slow) if n in slow else n for n in names]


def randomized(name, rng, size):
    """``name`` at ``size`` x ``size`` (MobileFaceNet at its 112) with logits out, random weights
    and BatchNorm variances in [0.5, 2], so every channel carries something."""
    size = 112 if get_entry(name).family == "mobilefacenet" else size
    model = create_model(name, num_classes=10, input_shape=(size, size, 3), classifier_activation=None)
    for layer in model.layers:
        layer.set_weights([rng.uniform(0.5, 2.0, w.shape) if "variance" in w.name
                           else rng.normal(0.0, 0.5, w.shape) for w in layer.weights])
    return model


def configs_by_kind() -> tuple[list[str], list[str], list[str]]:
    """(recipes, stages, searches): the configs in configs/ (but the include-only imagenet.gin)
    by whether they bind ``train.compress`` or ``search.*``."""
    from lite_tf.search import settings  # noqa: F401 (registers search.* with gin)
    from lite_tf.training import config

    recipes, stages, searches = [], [], []
    for name in sorted(f[:-4] for f in os.listdir(config.CONFIG_DIRS[1]) if f.endswith(".gin")):
        if name != "imagenet":
            config.parse([config.resolve_config(name)], [])
            kind = (searches if any(s.endswith("search") for _, s, _ in config.bound()) else
                    stages if config.query("train.compress") else recipes)
            kind.append(name)
    gin.clear_config()
    return recipes, stages, searches


@pytest.fixture(autouse=True)
def no_gin_bindings_left_behind():
    """gin's bindings are global to the process: what one test parses (a stage config run by
    train, say) must not configure the next test's ``prune.Pruning()``."""
    yield
    gin.clear_config()


@pytest.fixture
def rng():
    return np.random.RandomState(0)


def shared(tmp_path_factory, worker_id, name, make):
    """``root / name``, made by ``make(path)`` once per test run: with pytest-xdist the first
    worker to ask makes it under a file lock and the others reuse it. With LITE_TF_TEST_SHARED
    set to a folder, once for every run given that folder: .ci/run's slow suite reuses what its
    default suite made (the same source tree)."""
    base = tmp_path_factory.getbasetemp()
    root = base if worker_id == "master" else base.parent  # the run's folder, shared by workers
    if os.environ.get("LITE_TF_TEST_SHARED"):
        root = pathlib.Path(os.environ["LITE_TF_TEST_SHARED"])
        root.mkdir(parents=True, exist_ok=True)
    path = root / name
    with FileLock(str(root / f"{name}.lock")):
        if not (root / f"{name}.done").exists():
            make(path)
            (root / f"{name}.done").touch()
    return path


@pytest.fixture(scope="session")
def digits_dir(tmp_path_factory, worker_id) -> str:
    """A TFDS data_dir with the bundled digits prepared (once per test run)."""
    from lite_tf.data import sources

    return str(shared(tmp_path_factory, worker_id, "tfds",
                      lambda path: sources.get_builder("sklearn_digits", data_dir=str(path))))


# Command-line tests run this source tree's `python -m ...` from any directory.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_module(module, args, cwd=ROOT, env=None):
    """``python -m module args`` from ``cwd``, importing this source tree."""
    return run_script(["-m", module], args, cwd, env)


def run_command(name, args, prog, cwd=ROOT, env=None):
    """``prog args`` (the command ``name`` of lite_tf.commands) run in this process, where
    TensorFlow is loaded already, as a CompletedProcess; ``env``: variables to set meanwhile."""
    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.update(env or {})
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = commands.run(name, list(args), prog)
            except SystemExit as e:  # argparse
                code = e.code
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return subprocess.CompletedProcess([prog, *args], code, out.getvalue(), err.getvalue())


def run_script(script, args, cwd=ROOT, env=None):
    """``python script args`` (``script``: a path, or ``["-m", module]``)."""
    script = [script] if isinstance(script, str) else script
    env = dict(env or os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, *script, *args], capture_output=True, text=True,
                          cwd=cwd, env=env)


def load_script(path):
    """The Python file at ``path`` (a benchmark script, not a package module) as a module."""
    spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(path))[0], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def one_error_line(proc, prog, code=2):
    """The single ``prog: error:`` line of a failed command (asserting there is exactly one)."""
    errors = [l for l in proc.stderr.splitlines() if l.startswith(f"{prog}: error:")]
    assert proc.returncode == code and len(errors) == 1, proc.stderr[-3000:]
    return errors[0]


def snapshot(root):
    """Every file under ``root`` with its bytes: equal snapshots mean nothing was written."""
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def stage(config, parent, workdir, *bindings, epochs=1):
    """A short, quiet run of ``config`` (a stage's gin, or "quickstart") in ``workdir`` through
    the training CLI's launcher, from the run ``parent`` (or None), without the SavedModel no test
    here reads; ``bindings`` override the rest. Returns its Run."""
    from lite_tf import rundir
    from lite_tf.training.launch import launch

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        launch([config], [f"train.epochs = {epochs}", "train.verbose = 0", "train.saved_model = False",
                          *bindings], str(workdir), init_from=str(parent) if parent else None)
    finally:
        os.chdir(cwd)
        gin.clear_config()
    return rundir.find_run(str(workdir))


@pytest.fixture(scope="session")
def trained(tmp_path_factory, worker_id, digits_dir):
    """A finished short quickstart run (MobileNeXt-0.35 at 32x32, 6 epochs of 23 steps at 2.5x
    the quickstart's learning rate: about 87% top-1; at its rate 61-72%, still climbing, and a
    stage's one epoch after it moved by more than the stage tests allow), trained once per test
    run; copy it before changing it."""
    return shared(tmp_path_factory, worker_id, "trained_run", lambda workdir: stage(
        "quickstart", None, workdir, "train.model = 'mobilenext_035'", "train.warmup_epochs = 0",
        "train.learning_rate = 5e-3", "train.image_size = 32", f"train.data_dir = '{digits_dir}'",
        epochs=6))


@pytest.fixture(scope="session")
def qat_run(trained, tmp_path_factory, worker_id):
    """One QAT epoch from the trained run, once per test run; copy it before changing it."""
    return shared(tmp_path_factory, worker_id, "qat_run", lambda workdir: stage("qat", trained, workdir))


@pytest.fixture(scope="session")
def pruned_run(trained, tmp_path_factory, worker_id):
    """Magnitude pruning of the trained run to 75% in two epochs (the target reached halfway),
    once per test run, for the stages that start from a pruned model; copy it before changing it."""
    return shared(tmp_path_factory, worker_id, "pruned_run", lambda workdir: stage(
        "prune", trained, workdir, "prune.Pruning.end = 0.5", epochs=2))


@pytest.fixture(scope="session")
def trained_int8(trained, tmp_path_factory, worker_id) -> dict:
    """The int8 export's report of the trained run (64 test images evaluated), once per test run:
    the dense model the compression tests compare their sizes with."""
    from lite_tf import rundir
    from lite_tf.deploy.export import export

    def make(path):
        export(rundir.find_run(str(trained)), "int8", eval_samples=64, out_dir=str(path),
               progress=lambda _: None)

    path = shared(tmp_path_factory, worker_id, "trained_int8", make)
    (report,) = path.glob("*.report.json")
    return json.loads(report.read_text())
