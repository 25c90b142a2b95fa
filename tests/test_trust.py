"""Trust boundaries: hostile files and names are refused in one line, and the code they carry never
runs (each hostile input tries to create a marker file)."""

import json
import shutil

import numpy as np
import pytest

from conftest import one_error_line, run_command, snapshot
from lite_tf import trust
from lite_tf.backend import keras, tf
from lite_tf.errors import InputError
from test_phone import adb, run_phone  # noqa: F401  (the fake adb fixture)


def lambda_model(marker):
    """A model whose Lambda creates ``marker`` whenever it runs (as it does when rebuilt)."""
    path = str(marker)
    x = keras.Input((8, 8, 3), name="image")
    y = keras.layers.Lambda(lambda t: (open(path, "w").close(), t)[1], name="evil")(x)
    y = keras.layers.GlobalAveragePooling2D(name="pool")(y)
    return keras.Model(x, keras.layers.Dense(10, activation="softmax", name="logits")(y))


@pytest.mark.parametrize("suffix", [".h5", ".keras"])
def test_a_model_file_with_a_lambda_is_refused_and_its_code_never_runs(suffix, tmp_path):
    marker = tmp_path / "pwned"
    lambda_model(marker).save(tmp_path / f"evil{suffix}")
    marker.unlink()  # saving traced it
    before = snapshot(tmp_path)
    proc = run_command("export", ["--model", str(tmp_path / f"evil{suffix}"), "--dataset",
                                  "sklearn_digits"], "python -m export", tmp_path)
    assert one_error_line(proc, "python -m export") == (
        f"python -m export: error: {tmp_path / f'evil{suffix}'} holds a Lambda layer ('evil'): "
        f"lite_tf runs no code from model files; rebuild the model from built-in layers")
    assert not marker.exists() and snapshot(tmp_path) == before


def test_a_model_file_with_a_tensorflow_op_layer_is_refused(tmp_path):
    x = keras.Input((8, 8, 3), name="image")
    y = keras.layers.GlobalAveragePooling2D(name="pool")(tf.nn.relu(x))  # a TFOpLambda
    keras.Model(x, y).save(tmp_path / "op.keras")
    with pytest.raises(InputError, match=r"holds a TFOpLambda layer \('tf.nn.relu'\)"):
        trust.check_model_file(str(tmp_path / "op.keras"))


def test_a_savedmodel_that_writes_files_is_refused_before_it_runs(tmp_path):
    marker = tmp_path / "pwned"

    class Evil(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 3], tf.float32)])
        def serve(self, image):
            tf.io.write_file(str(marker), "x")
            return {"probabilities": tf.reduce_mean(image, axis=[1, 2])}

    evil = Evil()
    tf.saved_model.save(evil, str(tmp_path / "evil_savedmodel"),
                        signatures={"serving_default": evil.serve})
    assert not marker.exists()
    before = snapshot(tmp_path)
    proc = run_command("export", ["--model", str(tmp_path / "evil_savedmodel"), "--dataset",
                                  "sklearn_digits"], "python -m export", tmp_path)
    assert one_error_line(proc, "python -m export") == (
        f"python -m export: error: {tmp_path / 'evil_savedmodel'} has ops that touch files or the "
        f"process (WriteFile): lite_tf exports image classifiers only")
    assert not marker.exists() and snapshot(tmp_path) == before


class Pwn:
    """Unpickling this creates the file ``path``: what a hostile pickle would do."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_torch_checkpoint_with_code_is_refused_and_never_runs(tmp_path):
    torch = pytest.importorskip("torch")
    marker = tmp_path / "pwned"
    torch.save({"features.0.0.weight": torch.zeros(1), "evil": Pwn(str(marker))},
               tmp_path / "evil.pth")
    before = snapshot(tmp_path)
    proc = run_command("weights", ["import", "mobilenet_v2_100", str(tmp_path / "evil.pth"), "--out",
                                   str(tmp_path / "w.npz")], "python -m lite_tf.weights", tmp_path)
    line = one_error_line(proc, "python -m lite_tf.weights")
    assert line.startswith(f"python -m lite_tf.weights: error: cannot read {tmp_path / 'evil.pth'}: ")
    assert "Weights only load failed" in line
    assert not marker.exists() and snapshot(tmp_path) == before


def test_a_weights_npz_with_a_pickled_object_is_refused_and_never_runs(tmp_path):
    from lite_tf.models import create_model

    marker = tmp_path / "pwned"
    np.savez(tmp_path / "evil.npz", __meta__=np.array([Pwn(str(marker))], dtype=object))
    with pytest.raises(InputError, match=r"evil.npz is not a converted weights file: Object arrays "
                                         r"cannot be loaded when allow_pickle=False"):
        create_model("mobilenet_v2_035", weights=str(tmp_path / "evil.npz"))
    assert not marker.exists()


@pytest.mark.parametrize("name", ["$(reboot).tflite", "a;rm -rf sdcard.tflite", "-rf.tflite",
                                  "a b.tflite", "a,b.tflite", "`id`.tflite", ".hidden.tflite"])
def test_a_model_name_that_would_reach_the_phone_shell_is_refused(name, adb, tmp_path):  # noqa: F811
    model = tmp_path / name
    model.write_bytes(b"not pushed")
    proc = run_phone([str(model)], adb, tmp_path)
    assert one_error_line(proc, "python -m export.phone") == (
        f"python -m export.phone: error: the model file name {name!r} is not a plain file name "
        f"(letters, digits, . _ + -): rename it")
    assert not (adb.folder / "calls.log").exists()  # adb never called


def phone_document(model="m_int8", path="/data/local/tmp/m_int8.tflite", name="Pixel 8"):
    """A valid ``lite_tf.benchmark/2`` document as the app writes it, with one result."""
    return {"schema": "lite_tf.benchmark/2",
            "device": {"kind": "android", "name": name, "os": "Android 14", "cpu": "arm64-v8a",
                       "cores": 8, "runtime": {"name": "LiteRT", "version": "1.4.1"}},
            "results": [{"model": model, "path": path, "size_bytes": 10, "delegate": "XNNPACK",
                         "threads": 1, "runs": 5, "warmup": 1, "init_ms": 1.0,
                         "first_inference_ms": 1.0, "mean_ms": 1.0, "std_ms": 0.1, "p50_ms": 1.0,
                         "p90_ms": 1.0, "p99_ms": 1.0, "model_memory_bytes": 1000, "top1": 0.5,
                         "samples": 4, "agreement": 1.0}]}


def test_paths_in_a_results_document_never_leave_the_output_folder(tmp_path):
    document = phone_document(model="../../../tmp/evil", path="/etc/passwd",
                              name="../../evil phone")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "phone.json").write_text(json.dumps(document))
    shutil.copy(tmp_path / "in" / "phone.json", tmp_path / "in" / "again.json")
    out = tmp_path / "out"
    before = snapshot(tmp_path)
    proc = run_command("bench", [str(tmp_path / "in" / "phone.json"),
                                 str(tmp_path / "in" / "again.json"), "--out", str(out)],
                       "python -m export.benchmark", tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    written = {p: b for p, b in snapshot(tmp_path).items() if p not in before}
    assert sorted(str(p.relative_to(tmp_path)) for p in written) == ["out/benchmark.md",
                                                                       "out/benchmark.png"]
