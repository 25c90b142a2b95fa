"""The readers of files that come from outside (a phone's results, ``.samples``, a run's
``run.json`` and ``config.gin``, converted weights ``.npz``), fuzzed with hypothesis: whatever the
bytes, a reader returns what a valid file holds or raises one InputError line, nothing else."""

import io
import json
import os
import tempfile

import numpy as np
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from lite_tf import rundir
from lite_tf.deploy import samples
from lite_tf.deploy.benchmark import results
from lite_tf.errors import InputError
from lite_tf.weights import pretrained
from test_trust import phone_document

EXAMPLES = hypothesis_settings(max_examples=60, deadline=None,
                               suppress_health_check=[HealthCheck.function_scoped_fixture])


def read_bytes(reader, content: bytes, name: str):
    """``reader(path)`` on a file holding ``content``: its value, or the InputError's line."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, name)
        with open(path, "wb") as f:
            f.write(content)
        try:
            return reader(path)
        except InputError as e:
            assert str(e) and "\n" not in str(e).strip(), str(e)
            return e


def mutations(valid: bytes):
    """Bytes near ``valid``: truncated, bytes flipped or inserted, or anything at all."""
    return st.one_of(
        st.integers(0, len(valid)).map(lambda n: valid[:n]),
        st.lists(st.tuples(st.integers(0, len(valid) - 1), st.integers(0, 255)), min_size=1,
                 max_size=4).map(lambda edits: _edit(valid, edits)),
        st.tuples(st.integers(0, len(valid)), st.binary(min_size=1, max_size=16)).map(
            lambda t: valid[:t[0]] + t[1] + valid[t[0]:]),
        st.binary(max_size=200))


def _edit(valid, edits):
    out = bytearray(valid)
    for where, value in edits:
        out[where] = value
    return bytes(out)


# Phone results: JSON values of any shape where the document has fields.
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) |
                    st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)


def document_paths(document, prefix=()):
    if isinstance(document, dict):
        for key, value in document.items():
            yield prefix + (key,)
            yield from document_paths(value, prefix + (key,))
    elif isinstance(document, list):
        for i, value in enumerate(document):
            yield prefix + (i,)
            yield from document_paths(value, prefix + (i,))


PATHS = list(document_paths(phone_document()))


@given(where=st.sampled_from(PATHS), value=JSON)
@EXAMPLES
def test_a_phone_document_with_any_field_changed_is_valid_or_one_line(where, value):
    document = phone_document()
    target = document
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    got = read_bytes(results.load, json.dumps(document).encode(), "phone.json")
    if not isinstance(got, InputError):  # accepted: then it is usable as the table needs
        for r in got["results"]:
            assert isinstance(r["p50_ms"], (int, float)) and r["p50_ms"] >= 0
            assert r["threads"] >= 1 and isinstance(r["model"], str)


@given(content=mutations(json.dumps(phone_document()).encode()))
@EXAMPLES
def test_phone_document_bytes_are_valid_or_one_line(content):
    read_bytes(results.load, content, "phone.json")


def samples_bytes() -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "m.samples")
        inputs = np.arange(2 * 4 * 4 * 3, dtype=np.int8).reshape(2, 4, 4, 3)
        samples.write(path, inputs, np.array([1, 2]), np.array([1, 0]), 10, 0.5)
        with open(path, "rb") as f:
            return f.read()


VALID_SAMPLES = samples_bytes()


def test_the_valid_samples_file_reads():
    got = read_bytes(samples.read, VALID_SAMPLES, "m.samples")
    assert not isinstance(got, InputError)


@given(content=mutations(VALID_SAMPLES))
@EXAMPLES
def test_samples_bytes_are_valid_or_one_line(content):
    got = read_bytes(samples.read, content, "m.samples")
    if not isinstance(got, InputError):
        assert len(got["predictions"]) == len(got["labels"]) == len(got["inputs"])


def run_folder(folder, record: bytes, config: bytes):
    os.makedirs(folder, exist_ok=True)
    for name, content in ((rundir.RECORD, record), (rundir.CONFIG, config)):
        with open(os.path.join(folder, name), "wb") as f:
            f.write(content)
    open(os.path.join(folder, rundir.FLOAT_MODEL), "wb").close()


VALID_RECORD = json.dumps({"schema": rundir.RECORD_SCHEMA, "status": "finished", "command": {},
                           "parent": None, "weights": None,
                           "settings": {"model": "mobilenet_v2_035", "image_size": 32}}).encode()
VALID_CONFIG = b"train.model = 'mobilenet_v2_035'\ntrain.image_size = 32\n"


@given(record=mutations(VALID_RECORD))
@EXAMPLES
def test_run_json_bytes_are_a_run_or_one_line(record):
    with tempfile.TemporaryDirectory() as folder:
        run_folder(folder, record, VALID_CONFIG)
        try:
            run = rundir.find_run(folder)
        except InputError as e:
            assert "\n" not in str(e)
            return
        assert isinstance(run.settings, dict) and isinstance(run.record, dict)


@given(config=mutations(VALID_CONFIG))
@EXAMPLES
def test_a_legacy_runs_config_gin_bytes_are_settings_or_one_line(config):
    with tempfile.TemporaryDirectory() as folder:
        run_folder(folder, b"", config)
        os.remove(os.path.join(folder, rundir.RECORD))  # a legacy run: settings from config.gin
        try:
            run = rundir.find_run(folder)
        except InputError as e:
            assert "\n" not in str(e)
            return
        assert set(run.settings) == set(rundir.LEGACY_SETTINGS)


def npz_bytes() -> bytes:
    buffer = io.BytesIO()
    meta = {"format": pretrained.FORMAT, "model": "mobilenet_v2_035"}
    np.savez(buffer, __meta__=np.array(json.dumps(meta)), w=np.ones(3, np.float32))
    return buffer.getvalue()


VALID_NPZ = npz_bytes()


@given(content=mutations(VALID_NPZ))
@EXAMPLES
def test_weights_npz_bytes_are_metadata_or_one_line(content):
    got = read_bytes(pretrained.read_meta, content, "w.npz")
    if not isinstance(got, InputError):
        assert isinstance(got, dict)
