import lite_tf  # noqa: F401  (selects tf_keras before TensorFlow is imported anywhere)

import os
import subprocess
import sys

import gin
import numpy as np
import pytest

from lite_tf.models import get_entry, list_families, list_models


def one_per_family() -> list[str]:
    """The smallest registered variant of each family (the default suite's representatives)."""
    return [min(list_models(f), key=lambda n: get_entry(n).settings.get("width", 1.0))
            for f in list_families()]


@pytest.fixture(autouse=True)
def no_gin_bindings_left_behind():
    """gin's bindings are global to the process: what one test parses (a stage config run by
    train, say) must not configure the next test's ``prune.Pruning()``."""
    yield
    gin.clear_config()


@pytest.fixture
def rng():
    return np.random.RandomState(0)


@pytest.fixture(scope="session")
def digits_dir(tmp_path_factory) -> str:
    """A TFDS data_dir with the bundled digits prepared (once per test process)."""
    from lite_tf import data

    path = str(tmp_path_factory.mktemp("tfds"))
    data.get_builder("sklearn_digits", data_dir=path)
    return path


# Command-line tests run this source tree's `python -m ...` from any directory.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_module(module, args, cwd=ROOT, env=None):
    """``python -m module args`` from ``cwd``, importing this source tree."""
    return run_script(["-m", module], args, cwd, env)


def run_script(script, args, cwd=ROOT, env=None):
    """``python script args`` (``script``: a path, or ``["-m", module]``)."""
    script = [script] if isinstance(script, str) else script
    env = dict(env or os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, *script, *args], capture_output=True, text=True,
                          cwd=cwd, env=env)


def one_error_line(proc, prog, code=2):
    """The single ``prog: error:`` line of a failed command (asserting there is exactly one)."""
    errors = [l for l in proc.stderr.splitlines() if l.startswith(f"{prog}: error:")]
    assert proc.returncode == code and len(errors) == 1, proc.stderr[-3000:]
    return errors[0]


def snapshot(root):
    """Every file under ``root`` with its bytes: equal snapshots mean nothing was written."""
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def trained(tmp_path_factory, digits_dir):
    """A finished short quickstart run (MobileNeXt-0.35 at 32x32, about 90% top-1); copy it
    before changing it."""
    import train.__main__ as train_cli

    workdir = tmp_path_factory.mktemp("runs") / "run"
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        train_cli.run(["quickstart"], [
            "train.model = 'mobilenext_035'", "train.epochs = 6", "train.warmup_epochs = 0",
            "train.image_size = 32",
            f"train.data_dir = '{digits_dir}'", "train.verbose = 0"], str(workdir))
    finally:
        os.chdir(cwd)
    return workdir


@pytest.fixture(scope="session")
def qat_run(trained, tmp_path_factory):
    """One QAT epoch from the trained run, through the training CLI's entry point; copy it before
    changing it."""
    import train.__main__ as train_cli

    workdir = tmp_path_factory.mktemp("qat") / "run"
    train_cli.run(["qat"], ["train.epochs = 1", "train.verbose = 0"], str(workdir),
                  init_from=str(trained))
    return workdir
