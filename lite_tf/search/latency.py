"""The search's latency predictor: a table of int8 latency per unit (stem, block, head) of a model,
measured on the target device, and a model's latency predicted as the sum of its units'.

Each unit (lite_tf/models/units.py: its key is what it computes and the shape it takes) is
converted on its own to full-integer int8 with int8 I/O, as ``python -m export --int8`` converts
whole models, and timed with the benchmark's own measuring code (``export.benchmark``'s p50, at
the table's thread count), in ``ROUNDS`` fresh processes: its entry is the fastest. (On a shared
2-core VM one interpreter instance of a model can run 10-40% slower than the next, for as long as
it lives; interference only ever slows a run down, so the fastest of three is the steadiest
figure.) A unit timed alone pays the interpreter's per-invoke cost, which a whole model pays once:
the table also times a model of one tiny convolution (``overhead_ms``), and a model's prediction
is ``overhead + sum(unit - overhead)``.

The table is a JSON file (schema ``lite_tf.latency_table/1``): the device and thread count it was
measured at, the export's int8 rewrite passes its units were converted with (``passes``: a table
measured with other passes, or before tables named them, is measured again: a new pass changes what
some units become, and MobileFaceNet's or a searched 7x7 depthwise took 75-100x longer before
``large_depthwise_in_bands`` on an Intel Xeon), and one entry per key. Searches share it; it grows with every model whose units it
lacks, saved after each batch, so a killed measurement resumes.
"""

from __future__ import annotations

import datetime
import json
import os
import statistics
import tempfile
from typing import Callable

import jsonschema
import numpy as np

from lite_tf import checks, files
from lite_tf.backend import keras, layers
from lite_tf.deploy import passes as export_passes
from lite_tf.deploy import phone
from lite_tf.deploy.benchmark import host
from lite_tf.deploy.benchmark.results import device as host_device
from lite_tf.deploy.benchmark.results import device_label
from lite_tf.deploy.convert import convert
from lite_tf.deploy.litert import ops_and_outside_xnnpack
from lite_tf.errors import InputError
from lite_tf.models.units import Unit, unit_model, units
from lite_tf.weights.pretrained import cache_dir

SCHEMA = "lite_tf.latency_table/1"
PASSES = sorted(name for name, p in export_passes.PASSES.items()  # units convert with them
                if "int8" in p.modes and p.default)
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "latency_table.schema.json")) as _f:
    VALIDATOR = jsonschema.Draft202012Validator(json.load(_f))
BATCH = 16  # units measured per measuring process; the table is saved after each batch
ROUNDS = 3  # fresh processes per batch; each unit's entry is the fastest of its rounds
SECONDS = {"warmup_seconds": 0.25, "min_seconds": 0.5}  # per unit and round
HOST = "host"  # LatencyTable.open's default device: this machine
# What makes two devices the same for latency: the phone's or CPU's name, cores and runtime.
DEVICE_FIELDS = ("kind", "cpu", "cores", "runtime")


def _overhead_model():
    inputs = keras.Input((1, 1, 8), batch_size=1, name="input")
    return keras.Model(inputs, layers.Conv2D(8, 1, name="conv")(inputs), name="overhead")


# A measurer times .tflite files on a device: (the device, as lite_tf.benchmark/2 describes it;
# the p50 ms of each file).
Measurer = Callable[[list[str]], tuple[dict, list[float]]]


def host_measurer(threads: int, seconds: dict | None = None) -> Measurer:
    """This machine, with the host benchmark's measuring code: the fastest of ``ROUNDS`` fresh
    processes, each file timed for ``seconds`` (default: ``SECONDS``, a unit's)."""
    seconds = SECONDS if seconds is None else seconds

    def measured(paths):
        rounds = [[r["p50_ms"] for r in host.benchmark_many(paths, threads, **seconds)]
                  for _ in range(ROUNDS)]
        return host_device(), [min(times) for times in zip(*rounds)]
    return measured


def phone_measurer(adb, threads: int, runs: int = 50, progress=None) -> Measurer:
    """The phone ``adb`` (lite_tf.deploy.phone.Adb) talks to, through the benchmark app (as
    ``python -m export.phone``), XNNPACK at ``threads``: the fastest of ``ROUNDS`` app runs."""
    def measured(paths):
        names = [os.path.splitext(os.path.basename(p))[0] for p in paths]
        device, rounds = None, []
        for _ in range(ROUNDS):
            document = phone.run(paths, adb, [threads], ["xnnpack"], runs=runs,
                                 progress=progress or (lambda message: None))
            device, p50 = document["device"], {r["model"]: r["p50_ms"] for r in document["results"]}
            missing = [n for n in names if n not in p50]
            if missing:
                errors = document.get("errors") or [{}]
                raise InputError(f"the phone did not time {missing[0]}.tflite: "
                                 f"{errors[0].get('error', 'no result')}")
            rounds.append([p50[n] for n in names])
        return device, [min(times) for times in zip(*rounds)]
    return measured


class LatencyTable:
    """Latency per unit key on one device at one thread count; ``predict`` sums a model's units."""

    def __init__(self, path: str | None, device: dict, threads: int, overhead: list[float] | None = None,
                 entries: dict | None = None):
        self.path, self.device, self.threads = path, device, threads
        self.overhead_samples = list(overhead or [])
        self.entries = dict(entries or {})
        self.stale = 0  # entries of the file measured with other export passes, left out

    @classmethod
    def open(cls, path: str | None, threads: int = 1, device: dict | None = HOST) -> "LatencyTable":
        """The table at ``path`` (a new one if there is none yet), which must be of ``device``
        (default: this host; None: whichever device measures it, checked then) at ``threads``:
        one line naming the difference otherwise."""
        device = host_device() if device is HOST else device
        if path is None or not os.path.exists(path):
            return cls(path, device, threads)
        try:
            with open(path) as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            raise InputError(f"cannot read the latency table {path}: {e}") from None
        if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
            found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
            raise InputError(f"{path} is not a {SCHEMA} latency table (schema: {found!r})")
        wrong = checks.schema_problem(doc, VALIDATOR)
        if wrong:
            raise InputError(f"{path} is not a {SCHEMA} latency table: {wrong}")
        if doc["threads"] != threads:
            raise InputError(f"{path} was measured at {doc['threads']} thread(s), not {threads}")
        current = doc.get("passes") == PASSES
        table = cls(path, doc["device"], threads, doc["overhead_samples_ms"], doc["entries"] if current else {})
        table.stale = 0 if current else len(doc["entries"])
        if device is not None:
            table.check_device(device)
        return table

    def check_device(self, device: dict) -> None:
        """One line if ``device`` is not the table's (its CPU or phone, cores, runtime)."""
        if self.device is None:
            self.device = device
            return
        theirs = {k: self.device.get(k) for k in DEVICE_FIELDS}
        ours = {k: device.get(k) for k in DEVICE_FIELDS}
        if theirs != ours:
            what = next(k for k in DEVICE_FIELDS if theirs[k] != ours[k])
            raise InputError(f"{self.path} was measured on another device ({device_label(self.device)}: "
                             f"{what} {theirs[what]!r}, here {ours[what]!r}): use a table of this "
                             f"device or a new file")

    @property
    def overhead_ms(self) -> float:
        return statistics.median(self.overhead_samples) if self.overhead_samples else 0.0

    def document(self) -> dict:
        return {"schema": SCHEMA, "device": self.device, "threads": self.threads, "passes": PASSES,
                "overhead_ms": self.overhead_ms, "overhead_samples_ms": self.overhead_samples,
                "entries": self.entries}

    def save(self) -> None:
        """Write the table, with whatever another process (a second search worker) added to the
        file meanwhile; one writer at a time."""
        if not self.path:
            return
        folder, name = os.path.split(os.path.abspath(self.path))
        files.writable_dir(folder, "the latency table's folder")
        with files.locked(os.path.join(folder, f".{name}.lock")):
            try:
                with open(self.path) as f:
                    theirs = json.load(f)
                if theirs.get("passes") == PASSES:  # else they are the stale ones open() left out
                    self.entries = {**theirs["entries"], **self.entries}
                self.overhead_samples = list(dict.fromkeys(theirs["overhead_samples_ms"]
                                                           + self.overhead_samples))
            except (OSError, ValueError, KeyError, TypeError):
                pass  # no table yet (open() checked any that was there)
            files.write_atomic(self.path, json.dumps(self.document(), indent=1, sort_keys=True) + "\n")

    def missing(self, model) -> list[Unit]:
        return [u for u in units(model) if u.key not in self.entries]

    def predict(self, model) -> float:
        """Predicted int8 latency (ms) of ``model`` on the table's device; every unit must be in
        the table (``measure`` adds them)."""
        parts = self.breakdown(model)
        return self.overhead_ms + sum(ms for _, ms in parts)

    def breakdown(self, model) -> list[tuple[Unit, float]]:
        """(unit, its share of the latency in ms: its time less the per-invoke overhead)."""
        found = []
        for u in units(model):
            if u.key not in self.entries:
                stale = (f" (its {self.stale} entries were measured with other export passes: "
                         f"measure them again on the device)") if self.stale else ""
                raise InputError(f"{model.name}: unit {u.name} is not in the latency table yet{stale}")
            found.append((u, max(0.0, self.entries[u.key]["ms"] - self.overhead_ms)))
        return found

    def measure(self, models, measurer: Measurer | None = None,
                progress: Callable[[str], None] | None = None) -> int:
        """Measure every unit of ``models`` the table lacks (each key once), saving after each
        batch; the number measured. ``measurer`` times .tflite files on the device (default:
        this host at the table's thread count; ``phone_measurer`` for a phone)."""
        return self.measure_units([(model, u) for model in models for u in self.missing(model)],
                                  measurer, progress)

    def measure_units(self, pairs, measurer: Measurer | None = None,
                      progress: Callable[[str], None] | None = None) -> int:
        """``measure`` for the (model, unit) ``pairs`` whose unit the table lacks (each key once,
        whatever the unit: a block, or one layer as the breakdown by kernel times them)."""
        measurer = measurer or host_measurer(self.threads)
        todo: dict[str, tuple] = {}
        for model, u in pairs:
            if u.key not in self.entries:
                todo.setdefault(u.key, (model, u))
        pending = list(todo.values())
        if progress and pending and self.stale:
            progress(f"latency table: its {self.stale} entries were measured with other export passes "
                     f"than these ({', '.join(PASSES)}): measuring again")
            self.stale = 0
        for start in range(0, len(pending), BATCH):
            batch = pending[start:start + BATCH]
            if progress:
                progress(f"latency table: units {start + 1}-{start + len(batch)} of {len(pending)}")
            with tempfile.TemporaryDirectory() as tmp:
                paths, found = [os.path.join(tmp, "overhead.tflite")], {}
                _write(_overhead_model(), paths[0])
                for i, (model, u) in enumerate(batch):
                    paths.append(os.path.join(tmp, f"{i}.tflite"))
                    found[u.key] = _write(unit_model(model, u), paths[-1])
                device, times = measurer(paths)
            self.check_device(device)
            self.overhead_samples.append(times[0])
            today = datetime.date.today().isoformat()
            for (model, u), ms in zip(batch, times[1:]):
                ops, outside = found[u.key]
                self.entries[u.key] = {"ms": ms, "unit": u.name, "model": model.name,
                                       "input": list(u.input_shape), "output": list(u.output_shape),
                                       "ops": ops, "outside_xnnpack": outside, "measured": today}
            self.save()
        return len(pending)


def measure_whole(models, measurer: Measurer, extra=()) -> tuple[dict, list[float]]:
    """Each of ``models`` converted whole (as the table's units are), then the ``.tflite`` files
    ``extra`` as they are, timed end to end by ``measurer`` together: (the device, each one's
    p50 ms, models first)."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, model in enumerate(models):
            paths.append(os.path.join(tmp, f"{i}.tflite"))
            _write(model, paths[-1])
        return measurer(paths + list(extra))


DEVICES = ("host", "phone", "table")


class Predictor:
    """A model's predicted int8 latency on ``device``: 'host' (this CPU), 'phone' (the benchmark
    app over ``adb``) or 'table' (only the entries of the table at ``path``, measured before).
    Units the table lacks are measured first, except with 'table': there a missing unit is one
    line. ``path``: default <cache>/latency/<device>_<threads>t.json (``what`` names it in errors)."""

    def __init__(self, device: str, threads: int = 1, path: str | None = None, adb: str = "adb",
                 progress: Callable[[str], None] | None = None, what: str = "the latency table"):
        if device not in DEVICES:
            raise InputError(f"the latency device must be one of {', '.join(DEVICES)}, got {device!r}")
        path = path or os.path.join(cache_dir(), "latency", f"{device}_{threads}t.json")
        if device == "table" and not os.path.exists(path):
            raise InputError(f"{what} {path} does not exist")
        self.table = LatencyTable.open(path, threads, HOST if device == "host" else None)
        self.measurer = {"host": lambda: host_measurer(threads),
                         "phone": lambda: phone_measurer(phone.Adb(adb), threads),
                         "table": lambda: None}[device]()
        self.progress, self.kind = progress, device

    def __call__(self, model) -> float:
        return self.many([model])[0]

    def many(self, models) -> list[float]:
        """Each model's prediction; the units they lack measured together first."""
        if self.measurer is not None:
            self.table.measure(models, self.measurer, self.progress)
        for model in models:
            lacking = self.table.missing(model)
            if lacking:
                raise InputError(f"the latency table {self.table.path} lacks {len(lacking)} unit(s) "
                                 f"of {model.name} (first: {lacking[0].name}): it was measured for "
                                 f"other models; measure on the device itself instead of 'table'")
        return [self.table.predict(model) for model in models]

    def measured(self, model) -> float:
        """``model``'s int8 latency measured whole on the device, not predicted (a budget given as
        a model's latency); one line with 'table', which has no device to measure on."""
        if self.measurer is None:
            raise InputError(f"{model.name} cannot be measured with the latency device 'table'")
        device, (ms,) = measure_whole([model], self.measurer)
        self.table.check_device(device)
        return ms

    @property
    def device(self) -> str:
        """The device's name (the CPU's for this host) and the thread count."""
        d = self.table.device
        name = (d["cpu"] if d["kind"] == "host" else device_label(d)) if d else self.kind
        return f"{name}, {self.table.threads} thread{'s' if self.table.threads > 1 else ''}"


def _write(model, path: str) -> tuple[list[str], list[str]]:
    """``model`` converted to full-integer int8 (int8 I/O, calibrated on random inputs) into
    ``path``; its op types, and those of its ops XNNPACK does not run."""
    rng = np.random.default_rng(0)
    calibration = rng.uniform(-1, 1, (4, 1, *model.input_shape[1:])).astype("float32")
    content = convert(model, "int8", lambda: iter(calibration), io_type="int8")
    with open(path, "wb") as f:
        f.write(content)
    return ops_and_outside_xnnpack(content)
