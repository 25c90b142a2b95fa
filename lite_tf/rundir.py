"""The run directory contract: every path of a training run, its record ``run.json``, and how
runs are created, found, resumed and chained. Nothing else in lite_tf spells a run-directory name.

A run's workdir (default ``runs/<config>-<timestamp>``; ``runs/latest`` links to the newest)::

    run.json                     the record (RECORD_SCHEMA): status, command, resolved settings,
                                 pretrained weights, parent run
    config.gin                   the operative gin config (a stage started from this run parses it
                                 as its base)
    metrics.json                 per-epoch history and the final figures
    model.keras | model.h5       the final model (.h5 for fake-quantized stages: TF-MOT cannot
                                 reload them from .keras); saved_model/ beside it
    backup/                      the checkpoint training resumes from
    checkpoints/best.weights.h5  the weights with the best validation top-1
    tensorboard/                 training curves
    export/                      python -m export: <model>_<mode>.tflite, .report.json, .samples,
                                 labels.txt, export_report.json (a copy of the latest report)
    worker<i>/                   worker i's copies in a multi-worker run
    .lock                        held while a training writes the run (the pid holding it)

A search's folder (``python -m search``; default ``runs/searches/<config>``, rerunning resumes it)::

    search.json                  the record (SEARCH_SCHEMA): the command and its settings
    study.db                     the Optuna study (unless search.storage names a database)
    results.json                 every trial, the front and the best (lite_tf/search/results.py)
    front.csv, front.png         the accuracy / latency front, as a table and a plot
    best.gin                     the best architecture as a training config (python -m train)
    .lock                        held while a search writes its results

Runs written before ``run.json`` existed (``config.gin`` + ``command.json``) are still read: their
settings come from ``config.gin`` (``legacy_settings``), nothing is rewritten.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import fcntl
import json
import os

from gin import config, config_parser

from lite_tf import files
from lite_tf.errors import InputError

RECORD_SCHEMA = "lite_tf.run/1"
RUNS = "runs"
LATEST = os.path.join(RUNS, "latest")
RECORD, CONFIG, METRICS = "run.json", "config.gin", "metrics.json"
FLOAT_MODEL, QUANTIZED_MODEL = "model.keras", "model.h5"
EXPORT = "export"
LOCK = ".lock"
LEGACY_COMMAND = "command.json"
# The train.* settings later stages need from a legacy run's config.gin.
LEGACY_SETTINGS = ("model", "model_overrides", "dataset", "data_dir", "manual_dir", "train_split",
                   "eval_split", "image_size", "eval_crop_fraction", "preprocessing", "precision",
                   "compress", "init_from")
RUNNING, FINISHED = "running", "finished"
SEARCHES = os.path.join(RUNS, "searches")
SEARCH_SCHEMA = "lite_tf.search_run/1"


class ExportFiles:
    """The files ``python -m export`` writes for model ``name`` in ``folder``."""

    LATEST_REPORT, LABELS = "export_report.json", "labels.txt"

    def __init__(self, folder: str, name: str):
        self.folder, self.name = folder, name
        self.model = os.path.join(folder, f"{name}.tflite")
        self.report = report_for(self.model)
        self.samples = samples_for(self.model)
        self.labels = os.path.join(folder, self.LABELS)
        self.latest_report = os.path.join(folder, self.LATEST_REPORT)


def report_for(model_path: str) -> str:
    """An exported model's verification report: ``m_int8.tflite`` -> ``m_int8.report.json``."""
    return os.path.splitext(model_path)[0] + ".report.json"


def samples_for(model_path: str) -> str:
    """An exported model's evaluation samples for the phone: ``m_int8.tflite`` -> ``m_int8.samples``."""
    return os.path.splitext(model_path)[0] + ".samples"


def run_of_export(model_path: str) -> str | None:
    """The run folder of a model exported into its run (``<run>/export/<model>.tflite``), else None."""
    folder = os.path.dirname(os.path.abspath(model_path))
    return os.path.dirname(folder) if os.path.basename(folder) == EXPORT else None


class RunDir:
    """The paths of one run directory (``path`` absolute)."""

    def __init__(self, path: str):
        self.path = os.path.abspath(path)

    def __repr__(self):
        return f"RunDir({self.path!r})"

    def join(self, *parts: str) -> str:
        return os.path.join(self.path, *parts)

    record = property(lambda self: self.join(RECORD))
    config = property(lambda self: self.join(CONFIG))
    metrics = property(lambda self: self.join(METRICS))
    backup = property(lambda self: self.join("backup"))
    checkpoints = property(lambda self: self.join("checkpoints"))
    best_weights = property(lambda self: self.join("checkpoints", "best.weights.h5"))
    tensorboard = property(lambda self: self.join("tensorboard"))
    saved_model = property(lambda self: self.join("saved_model"))
    export_dir = property(lambda self: self.join(EXPORT))

    def worker(self, index: int) -> RunDir:
        """Where worker ``index`` writes its copies (worker 0 writes the run itself)."""
        return self if index == 0 else RunDir(self.join(f"worker{index}"))

    def model_file(self, quantized: bool) -> str:
        """Where the final model is saved: ``model.h5`` for a fake-quantized model."""
        return self.join(QUANTIZED_MODEL if quantized else FLOAT_MODEL)

    def final_model(self) -> str | None:
        """The final model file if training finished and saved it, else None."""
        return next((p for p in (self.model_file(False), self.model_file(True)) if os.path.exists(p)),
                    None)

    def export_files(self, name: str) -> ExportFiles:
        return ExportFiles(self.export_dir, name)

    @contextlib.contextmanager
    def locked(self):
        """Hold the run's lock (``.lock``, an advisory ``flock`` the system releases on any exit,
        a crash or SIGKILL included) while training into it; InputError if another process holds
        it."""
        os.makedirs(self.path, exist_ok=True)
        with open(self.join(LOCK), "a+") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.seek(0)
                holder = f.read().strip() or "another process"
                raise InputError(f"{self.path} is in use by another training ({holder}): wait for "
                                 f"it to finish or choose another --workdir") from None
            f.seek(0)
            f.truncate()
            f.write(f"pid {os.getpid()}")
            f.flush()
            try:
                yield self
            finally:
                f.truncate(0)

    # The record.
    def read_record(self) -> dict | None:
        """``run.json`` (a legacy run's equivalent, read from its config.gin and command.json); None
        when the folder holds no run."""
        try:
            with open(self.record) as f:
                record = json.load(f)
        except FileNotFoundError:
            return self._legacy_record()
        except (OSError, ValueError) as e:
            raise InputError(f"cannot read {self.record}: {e}") from None
        wrong = _record_problem(record)
        if wrong:
            raise InputError(f"{self.record} is not a lite_tf run record: {wrong}")
        return record

    def _legacy_record(self) -> dict | None:
        command = _read_json(self.join(LEGACY_COMMAND))
        has_config = os.path.exists(self.config)
        if command is None and not has_config:
            return None
        finished = has_config and self.final_model() is not None
        return {"schema": RECORD_SCHEMA, "status": FINISHED if finished else RUNNING,
                "command": {k: v for k, v in (command or {}).items() if k != "parent"},
                "parent": (command or {}).get("parent"), "weights": None,
                "settings": legacy_settings(self.config) if has_config else {}, "legacy": True}

    def write_record(self, record: dict) -> None:
        files.write_json(self.record, {"schema": RECORD_SCHEMA, **record})

    def start(self, command: dict, parent: str | None) -> None:
        """Record a run that is about to train: its command and parent; settings come at the end."""
        previous = self.read_record() or {}
        self.write_record({"status": RUNNING, "command": command, "parent": parent,
                           "weights": None, "settings": previous.get("settings", {})})

    def finish(self, settings: dict, weights: str | None, config: str) -> None:
        """Record the finished run: its resolved ``train.*`` settings, pretrained weights and the
        operative gin ``config``."""
        record = self.read_record() or {}
        files.write_atomic(self.config, config)
        self.write_record({"status": FINISHED, "command": record.get("command", {}),
                           "parent": record.get("parent"), "weights": weights,
                           "settings": settings})

    def same_command(self, command: dict) -> bool:
        """Whether this run was started by ``command``."""
        record = self.read_record()
        return bool(record) and record.get("command") == command

    def finished(self) -> bool:
        record = self.read_record()
        return bool(record) and record["status"] == FINISHED and self.final_model() is not None


@dataclasses.dataclass(frozen=True)
class Run:
    """A finished run as later stages see it: where it is, its resolved ``train.*`` settings
    (``run['dataset']``) and its record; or a model file given by path, seen as a run."""

    workdir: str
    settings: dict
    model_file: str = ""  # a model given by path; "" for the run's own final model
    record: dict = dataclasses.field(default_factory=dict)

    @property
    def dir(self) -> RunDir:
        return RunDir(self.workdir)

    @property
    def model_path(self) -> str:
        return self.model_file or self.dir.final_model() or self.dir.model_file(False)

    @property
    def stage(self) -> str | None:
        return self.settings.get("compress")

    @property
    def parent(self) -> str | None:
        return self.settings.get("init_from") or self.record.get("parent")

    @property
    def weights(self) -> str | None:
        return self.record.get("weights")

    def __getitem__(self, key):
        return self.settings.get(key)


def find_run(workdir: str | None = None) -> Run:
    """The finished run in ``workdir`` (default runs/latest); InputError, in one line, if there is
    none or it has not finished."""
    path = workdir or LATEST
    if os.path.islink(path) and not os.path.exists(path):
        raise InputError(f"{path} points at {os.readlink(path)}, which no longer exists: pass "
                         f"--workdir with a run directory, or train one")
    if not os.path.isdir(path):
        hint = "train one with python -m train --config quickstart" if workdir is None else \
            "pass --workdir with a run directory"
        raise InputError(f"no training run at {path}: {hint}")
    run = RunDir(os.path.realpath(path))
    if not run.finished():
        raise InputError(
            f"the run in {path} has not finished training: rerun its python -m train command "
            f"(run.json) to resume it, or export the best weights so far from "
            f"{run.best_weights} after it finishes")
    record = run.read_record()
    return Run(run.path, record["settings"], record=record)


def model_file_run(path: str, dataset: str, data_dir: str | None = None,
                   train_split: str = "train", eval_split: str = "test",
                   preprocessing: str | None = None) -> Run:
    """A model given by path (``.keras``, ``.h5`` or a SavedModel folder) with the dataset to
    calibrate and verify it on, seen as a run: images are preprocessed as lite_tf trains
    (resized whole, scaled as ``preprocessing``, default [-1, 1]); ``image_size`` is read from
    the model when it loads. Its exports go to ``export/`` beside it."""
    if not os.path.exists(path):
        raise InputError(f"no model at {path}")
    name = os.path.splitext(os.path.basename(os.path.normpath(path)))[0]
    settings = dict(model=name, model_overrides=None, dataset=dataset, data_dir=data_dir,
                    manual_dir=None, train_split=train_split, eval_split=eval_split,
                    image_size=None, eval_crop_fraction=1.0, preprocessing=preprocessing,
                    precision="float32", compress=None, init_from=None)
    return Run(os.path.dirname(os.path.abspath(path)), settings, os.path.abspath(path))


def choose(configs: list[str], command: dict, workdir: str | None = None) -> RunDir:
    """The run directory for ``command``: ``workdir`` if given; else the unfinished runs/latest of
    the same command (rerunning resumes it); else a new runs/<config>-<timestamp>, which
    runs/latest then links to. Call it once the inputs are checked: it creates folders."""
    if workdir:
        path = os.path.abspath(workdir)
        files.writable_dir(path, "workdir")
        return RunDir(path)
    latest = RunDir(os.path.realpath(LATEST)) if os.path.isdir(LATEST) else None
    if latest and latest.same_command(command) and not latest.finished():
        return latest
    stem = os.path.splitext(os.path.basename(configs[-1]))[0]
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path, n = os.path.join(RUNS, f"{stem}-{stamp}"), 1
    try:
        while os.path.exists(path):  # two runs started within one second
            n += 1
            path = os.path.join(RUNS, f"{stem}-{stamp}-{n}")
        os.makedirs(path)
        tmp = f"{LATEST}.tmp"
        if os.path.lexists(tmp):
            os.remove(tmp)
        os.symlink(os.path.basename(path), tmp)
        os.replace(tmp, LATEST)
    except OSError as e:
        raise InputError(f"cannot write to workdir {os.path.abspath(path)}: {e.strerror}") from None
    return RunDir(os.path.realpath(path))


def parent_run(init_from: str, command: dict) -> Run:
    """The finished run a stage starts from. When ``init_from`` (typically runs/latest) is this
    same command's own unfinished stage, the command is being rerun to resume it: its parent is
    the one it recorded."""
    try:
        return find_run(init_from)
    except InputError:
        run = RunDir(init_from)
        record = run.read_record() if os.path.isdir(init_from) else None
        if record and record.get("parent") and run.same_command(command):
            return find_run(record["parent"])
        raise


def lineage(run: Run) -> list[Run]:
    """``run`` and the runs it started from, oldest first (as far as they still exist)."""
    chain, current = [], run
    while current is not None:
        chain.insert(0, current)
        parent = current.parent
        current = find_run(parent) if parent and os.path.isdir(parent) else None
    return chain


# The record's fields and their types (``parent`` and ``weights``: a path or None).
RECORD_FIELDS = {"status": str, "command": dict, "settings": dict, "parent": (str, type(None)),
                 "weights": (str, type(None))}


def _record_problem(record) -> str | None:
    """What is wrong with a ``run.json`` document, or None."""
    if not isinstance(record, dict):
        return f"a {type(record).__name__}, not an object"
    if record.get("schema") != RECORD_SCHEMA:
        return f"schema {record.get('schema')!r}, expected {RECORD_SCHEMA!r}"
    for name, kind in RECORD_FIELDS.items():
        if not isinstance(record.get(name), kind):
            return f"{name} is {record.get(name)!r}"
    if record["status"] not in (RUNNING, FINISHED):
        return f"status {record['status']!r}"
    return None


def read_metrics(run: RunDir) -> dict:
    """``metrics.json`` (an empty history before the first epoch ends)."""
    return _read_json(run.metrics) or {"history": []}


def legacy_settings(config_path: str) -> dict:
    """The ``train.*`` values of a legacy run's operative config.gin (None where it binds none),
    read without touching gin's global configuration."""
    try:
        with open(config_path) as f:
            bound = {statement.arg_name: statement.value
                     for statement in config_parser.ConfigParser(
                         f, config.ParserDelegate(skip_unknown=True))
                     if isinstance(statement, config_parser.BindingStatement)
                     and statement.selector == "train" and not statement.scope}
    except (OSError, SyntaxError, ValueError) as e:  # UnicodeDecodeError is a ValueError
        raise InputError(f"cannot read {config_path}: {str(e).splitlines()[0]}") from None
    return {name: bound.get(name) for name in LEGACY_SETTINGS}


def _read_json(path: str) -> dict | None:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


class SearchDir:
    """The paths of one search's folder (``path`` absolute)."""

    def __init__(self, path: str):
        self.path = os.path.abspath(path)

    def join(self, *parts: str) -> str:
        return os.path.join(self.path, *parts)

    record = property(lambda self: self.join("search.json"))
    study_url = property(lambda self: f"sqlite:///{self.join('study.db')}")
    results = property(lambda self: self.join("results.json"))
    front_csv = property(lambda self: self.join("front.csv"))
    front_png = property(lambda self: self.join("front.png"))
    best_config = property(lambda self: self.join("best.gin"))
    lock = property(lambda self: self.join(LOCK))

    def read_record(self) -> dict | None:
        record = _read_json(self.record)
        if record is not None and (not isinstance(record, dict)
                                   or record.get("schema") != SEARCH_SCHEMA):
            raise InputError(f"{self.record} is not a lite_tf search record")
        return record

    def start(self, command: dict, settings: dict) -> None:
        """Record the search: its command and its settings (``{'search.trials': 20, ...}``)."""
        files.write_json(self.record, {"schema": SEARCH_SCHEMA, "command": command,
                                       "settings": settings})


def search_path(configs: list[str], workdir: str | None = None) -> str:
    """Where a search of ``configs`` lives: ``workdir`` or runs/searches/<last config's name>."""
    return workdir or os.path.join(SEARCHES, os.path.splitext(os.path.basename(configs[-1]))[0])


def choose_search(configs: list[str], settings: dict, workdir: str | None = None,
                  free: tuple[str, ...] = ()) -> SearchDir:
    """The folder of a search: ``workdir`` or runs/searches/<last config's name>. A folder whose
    search has other ``settings`` (but those in ``free``, which a resumed search may change) is
    one line naming the first difference, and is not touched. Call it once the inputs are checked:
    it creates the folder."""
    folder = SearchDir(search_path(configs, workdir))
    record = folder.read_record() if os.path.isdir(folder.path) else None
    if record is not None:
        theirs, ours = record.get("settings", {}), json.loads(json.dumps(settings))
        for name in sorted(set(theirs) | set(ours)):
            if name not in free and theirs.get(name) != ours.get(name):
                raise InputError(f"{folder.path} holds a search with {name} = {theirs.get(name)!r}"
                                 f" (here {ours.get(name)!r}): pass --workdir for a new one")
    files.writable_dir(folder.path, "workdir")
    return folder
