"""What lite_tf accepts from files it did not write, checked before they are used.

A model file is data to lite_tf, never code: a ``.keras`` or ``.h5`` file whose config holds a
``Lambda`` (Python bytecode, run while the model is rebuilt: the ``.h5`` loader has no safe mode)
or a ``TFOpLambda`` (any TensorFlow function by name, ``tf.io.write_file`` included) is refused
before Keras reads it, and a SavedModel whose graph reads or writes files is refused before it is
called. (PyTorch checkpoints are read with ``weights_only=True`` and converted weights with
``allow_pickle=False``, where they are read.) Names that reach a phone's shell or the app's
arguments must be plain file names (``SAFE_NAME``).
"""

from __future__ import annotations

import json
import os
import re
import zipfile

from lite_tf.errors import InputError

# Layers that carry code: Python bytecode (Lambda) or a TensorFlow function looked up by name.
CODE_LAYERS = {"Lambda", "TFOpLambda", "SlicingOpLambda"}
# Graph ops that touch files, the network or the process: never in an image classifier.
IO_OPS = {"WriteFile", "ReadFile", "MatchingFiles", "DeleteFile", "Save", "SaveV2", "SaveSlices",
          "MergeV2Checkpoints", "Restore", "RestoreV2", "RestoreSlice", "ShardedFilename",
          "WholeFileReader", "WholeFileReaderV2", "TextLineReaderV2", "FixedLengthRecordReaderV2",
          "TFRecordReaderV2", "DatasetToTFRecord", "ExperimentalDatasetToTFRecord",
          "CreateSummaryFileWriter", "WriteSummary", "WriteScalarSummary", "WriteImageSummary",
          "PyFunc", "PyFuncStateless", "EagerPyFunc", "PrintV2", "Print", "SaveDataset",
          "SaveDatasetV2", "LoadDataset", "Exit", "DebugIdentityV2", "DebugIdentityV3"}
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")


def model_config(path: str) -> dict | None:
    """The Keras model config stored in a ``.h5`` or ``.keras`` file, read as JSON without
    deserializing anything; None if the file has none (a weights-only file)."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                return json.loads(z.read("config.json"))
        import h5py  # a dependency of tf_keras

        with h5py.File(path, "r") as f:
            text = f.attrs.get("model_config")
    except (OSError, KeyError, ValueError) as e:
        raise InputError(f"cannot read {path}: {e}") from None
    if text is None:
        return None
    return json.loads(text.decode() if isinstance(text, bytes) else text)


def layers_in(config) -> list[tuple[str, str]]:
    """(class name, layer name) of every layer in a Keras config, nested models' included."""
    found = []
    if isinstance(config, dict):
        if "class_name" in config and isinstance(config.get("config"), dict):
            found.append((str(config["class_name"]), str(config["config"].get("name", "?"))))
        for value in config.values():
            found += layers_in(value)
    elif isinstance(config, list):
        for value in config:
            found += layers_in(value)
    return found


def check_model_file(path: str) -> None:
    """InputError if the ``.keras``/``.h5`` file ``path`` holds a layer that carries code."""
    if os.path.isdir(path):
        return
    for cls, name in layers_in(model_config(path)):
        if cls in CODE_LAYERS:
            raise InputError(f"{path} holds a {cls} layer ({name!r}): lite_tf runs no code from "
                             f"model files; rebuild the model from built-in layers")


def check_graph(function, path: str) -> None:
    """InputError if the concrete ``function`` (a SavedModel's signature) has an op that touches
    files or the process, in its graph or any function it calls."""
    graph = function.graph.as_graph_def()
    nodes = list(graph.node) + [n for f in graph.library.function for n in f.node_def]
    bad = sorted({n.op for n in nodes} & IO_OPS)
    if bad:
        raise InputError(f"{path} has ops that touch files or the process ({', '.join(bad)}): "
                         f"lite_tf exports image classifiers only")


def check_name(name: str, what: str) -> str:
    """``name`` if it is a plain file name (letters, digits, ``._+-``, not starting with a dot or
    dash), else InputError: it is about to reach a phone's shell or the app's arguments."""
    if not SAFE_NAME.fullmatch(name):
        raise InputError(f"{what} {name!r} is not a plain file name (letters, digits, . _ + -): "
                         f"rename it")
    return name
