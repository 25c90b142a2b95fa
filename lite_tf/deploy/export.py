"""Export a training run to TFLite and verify it: the work behind ``python -m export``.

A run's model is rebuilt in float32 from the zoo and given the run's weights (so mixed-precision runs
export cleanly); a model given by path (``.keras``, ``.h5``, SavedModel) is exported as it is. It is
converted by ``lite_tf.deploy.convert`` (full-integer int8 calibrates on the run's
own training images, preprocessed as for evaluation), then evaluated with LiteRT next to the float
model on the run's evaluation split. An int8 export that kept float kernels fails loudly.
"""

from __future__ import annotations

import gzip
import os
import tempfile
import time

import numpy as np

from lite_tf import files, trust
from lite_tf.backend import tf
from lite_tf.compression import stage as stages
from lite_tf.data import pipeline, sources
from lite_tf.deploy import codebook, litert, passes, samples
from lite_tf.deploy import precision
from lite_tf.deploy.benchmark import host
from lite_tf.deploy.convert import CALIBRATED, convert
from lite_tf.errors import InputError
from lite_tf.rundir import ExportFiles, Run

# Ops allowed to touch float tensors in a full-integer model: the float I/O boundary.
BOUNDARY_OPS = {"QUANTIZE", "DEQUANTIZE"}


class ExportError(RuntimeError):
    """The converted model is not what was asked for (e.g. float kernels in an int8 export)."""


class SavedModelSignature(tf.Module):
    """A SavedModel's ``serving_default`` signature, called like a Keras model: one image input,
    its first output (sorted by name)."""

    def __init__(self, path: str):
        super().__init__()
        self.loaded = tf.saved_model.load(path)
        function = self.loaded.signatures.get("serving_default")
        inputs = function.structured_input_signature[1] if function else {}
        if len(inputs) != 1:
            raise InputError(f"{path} needs a serving_default signature with one image input")
        trust.check_graph(function, path)
        (self.input_name, spec), = inputs.items()
        self.input_shape = tuple(spec.shape)
        self.output_name = sorted(function.structured_outputs)[0]
        self.output_shape = tuple(function.structured_outputs[self.output_name].shape)
        self.function = function

    def __call__(self, x, training=False):
        return self.function(**{self.input_name: tf.cast(x, tf.float32)})[self.output_name]


def load_model_file(path: str):
    """A ``.keras`` / ``.h5`` model (a QAT ``.h5`` too) or a SavedModel folder, ready to convert."""
    return stages.read_model(path, SavedModelSignature if os.path.isdir(path) else None)


def load_float_model(run: Run):
    """The model to export: a run's final model (``stage.load_model``) or the model file given by
    path."""
    if not run.model_file:
        return stages.load_model(run)
    model = load_model_file(run.model_file)
    shape = tuple(model.input_shape)
    if len(shape) != 4 or shape[1] is None or shape[1] != shape[2]:
        raise InputError(f"{run.model_file} takes input {shape}: export needs a fixed square "
                         f"image input (batch, N, N, channels)")
    return model


def _batches(run: Run, builder, split: str, batch_size: int, limit: int | None, image_size: int):
    ds = pipeline.make_dataset(builder, split, training=False, batch_size=batch_size,
                           image_size=image_size, crop_fraction=run["eval_crop_fraction"],
                           preprocessing=run["preprocessing"])
    if limit:
        ds = ds.unbatch().take(limit).batch(batch_size)
    return [(x.numpy(), y.numpy().argmax(-1)) for x, y in ds]


def _keep_float(run: Run, builder, model, calibration, keep, within: float, samples: int, io_type: str,
                per_tensor: bool, progress) -> tuple[bytes, dict]:
    """The int8 model with layers kept in float (``export``'s ``keep_float``) and what was kept."""
    held = _batches(run, builder, run["train_split"], 32, samples, model.input_shape[1])
    x, y = np.concatenate([a for a, _ in held]), np.concatenate([b for _, b in held])
    float_top1 = float((np.asarray(model.predict(x, verbose=0)).argmax(-1) == y).mean())
    progress("ranking the layers by their int8 error; keeping "
             + (f"the fewest in float for top-1 within {100 * within:.2f} points of float on "
                f"{len(y)} training images" if keep == "auto" else f"the {keep} worst in float"))
    choice = precision.keep_float(
        model, lambda: (a for a, _ in calibration), lambda c: float((litert.TFLiteModel(c)(x).argmax(-1) == y).mean()),
        float_top1, within if keep == "auto" else None, io_type, None if keep == "auto" else int(keep),
        skip_passes=list(passes.PASSES), progress=progress, per_tensor=per_tensor)
    return choice.content, {"layers": [litert.layer_of(r["tensor"]) for r in choice.kept],
                            "errors": [round(r["error"], 4) for r in choice.kept],
                            "selection_images": int(len(y)), "selection_float_top1": float_top1,
                            "selection_top1": {str(k): v for k, v in sorted(choice.tried.items())},
                            "within": within if keep == "auto" else None}


def _cost(int8: bytes, mixed: bytes, progress, rounds: int = 3) -> dict:
    """What the float layers cost against the all-int8 model: size, and host latency (1 thread,
    p50 of 50 runs, median of ``rounds`` rounds alternating between the two models)."""
    progress("timing the all-int8 and the mixed model on this host (1 thread)")
    with tempfile.TemporaryDirectory() as folder:
        paths = {name: os.path.join(folder, f"{name}.tflite") for name in ("int8", "mixed")}
        for name, content in (("int8", int8), ("mixed", mixed)):
            with open(paths[name], "wb") as f:
                f.write(content)
        p50 = host.median_p50(paths, threads=1, runs=50, rounds=rounds)
    return {"int8_size_bytes": len(int8), "size_ratio": round(len(mixed) / len(int8), 4),
            "int8_p50_ms": round(p50["int8"], 6), "p50_ms": round(p50["mixed"], 6),
            "latency_ratio": round(p50["mixed"] / p50["int8"], 4)}


def float_kernels(ops: list[tuple[str, str]]) -> list[str]:
    return sorted({op for op, dtype in ops if dtype == "float32" and op not in BOUNDARY_OPS})


def export(run: Run, mode: str = "int8", io_type: str = "int8", calibration_samples: int = 200,
           eval_samples: int | None = None, out_dir: str | None = None, progress=print,
           device_samples: int = 32, skip_passes=(), keep_float: str | int | None = None,
           keep_float_within: float = 0.003, selection_samples: int = 1000,
           per_tensor: bool = False, add_passes=()) -> dict:
    """Convert, verify and write ``<model>_<mode>.tflite``, the labels, the report (and a copy as
    the folder's latest report) and the first ``device_samples`` evaluation images with the host's
    predictions (``lite_tf.deploy.samples``, for the phone app's accuracy check) to ``out_dir``
    (default: the run's export folder; names: ``rundir.ExportFiles``); returns the report. The
    export's rewrite passes (``lite_tf.deploy.passes``) on by default apply but those in
    ``skip_passes``, and those off by default in ``add_passes``.
    ``keep_float`` (int8 only): 'auto' keeps the fewest layers int8 hurts most in float for
    top-1 on ``selection_samples`` training images within ``keep_float_within`` of the float
    model's (``lite_tf.deploy.precision``), N the N worst; written as ``<model>_int8_mixed``.
    ``per_tensor`` (int8 only): one scale per weight tensor, for accelerators without per-channel
    int8; written as ``<model>_int8_per_tensor``."""
    start = time.time()
    passes.check([*skip_passes, *add_passes])
    out_dir = out_dir or run.dir.export_dir
    files.writable_dir(out_dir, "the export folder")
    files.remove_partial(out_dir)  # what an export killed while writing left
    builder = sources.get_builder(run["dataset"], run["data_dir"], run["manual_dir"])
    labels = sources.label_feature(builder).names
    model = load_float_model(run)
    size = model.input_shape[1]
    if model.output_shape[-1] != len(labels):
        raise InputError(f"{run.model_path} has {model.output_shape[-1]} outputs but "
                         f"{run['dataset']} has {len(labels)} classes")

    sources.split_size(builder, run["eval_split"])
    calibration = None
    # A QAT model's fake-quant ranges set most int8 scales; the converter still requires
    # calibration data for full-integer models (it quantizes the I/O and any other tensor with it).
    if mode in CALIBRATED:
        sources.split_size(builder, run["train_split"])
        calibration = _batches(run, builder, run["train_split"], 1, calibration_samples, size)
    # A pruned float model keeps its zeros sparse, for XNNPACK's sparse inference.
    stage = stages.get(run.stage)
    sparse = stage.sparse_float and mode in ("float32", "float16")
    progress(f"converting {run['model']} to {mode} TFLite"
             + (f" ({len(calibration)} calibration images)" if calibration else "")
             + (f", {stage.note}" if stage.note else "")
             + (", sparse weights" if sparse else ""))
    rewritten, applied = passes.apply(model, mode, skip_passes, add_passes)  # here, to report what applied
    content = convert(rewritten, mode, io_type=io_type, sparse=sparse, skip_passes=list(passes.PASSES),
                      per_tensor=per_tensor, representative_data=(lambda: (x for x, _ in calibration)) if calibration else None)
    shared = []
    if mode == "int8":  # clustered kernels: one code per shared value (lite_tf.deploy.codebook)
        content, shared = codebook.share_codes(content, rewritten)
    ops = litert.tensor_types(content)
    if mode in CALIBRATED and float_kernels(ops):
        raise ExportError(f"the {mode} export kept float kernels: {', '.join(float_kernels(ops))}")
    kept = None
    if keep_float is not None:
        int8 = content
        content, kept = _keep_float(run, builder, rewritten, calibration, keep_float,
                                    keep_float_within, selection_samples, io_type, per_tensor, progress)
        kept["cost"] = _cost(int8, content, progress)
        ops = litert.tensor_types(content)

    evaluation = _batches(run, builder, run["eval_split"], 32, eval_samples, size)
    progress(f"evaluating on {sum(len(y) for _, y in evaluation)} {run['eval_split']} images")
    lite = litert.TFLiteModel(content)
    want, got_float, got_lite, inputs = [], [], [], []
    for x, y in evaluation:
        inputs += [lite.input_tensor(image) for image in x[:device_samples - len(inputs)]]
        want.append(y)
        got_float.append(np.asarray(model(x, training=False)).argmax(-1))
        got_lite.append(lite(x).argmax(-1))
    want, got_float, got_lite = map(np.concatenate, (want, got_float, got_lite))

    out = ExportFiles(out_dir, f"{run['model']}_{mode}" + ("_per_tensor" if per_tensor else "")
                      + ("_mixed" if kept else ""))
    weights = litert.weights(content)
    report = {
        "model": run["model"], "dataset": run["dataset"], "mode": mode,
        "io_type": io_type if mode == "int8" else "float32", "per_tensor": per_tensor,
        "compress": run.stage,
        "file": os.path.basename(out.model), "size_bytes": len(content),
        "gzip_bytes": len(gzip.compress(content, 9)), "sparse": sparse,
        "eval_split": run["eval_split"], "eval_examples": int(len(want)),
        "float_top1": float((got_float == want).mean()),
        "tflite_top1": float((got_lite == want).mean()),
        "agreement": float((got_lite == got_float).mean()),
        "calibration_samples": len(calibration or []),
        "device_samples": len(inputs),
        "input_shape": [1, *model.input_shape[1:]],
        "ops": [{"op": op, "type": dtype} for op, dtype in ops],
        "passes": applied,
        "shared_codes": shared,
        **({"kept_float": kept} if kept else {}),
        "weights": weights,
        "seconds": round(time.time() - start, 1),
    }
    files.write_atomic(out.model, content)
    files.write_atomic(out.labels, "\n".join(labels) + "\n")
    if inputs:
        samples.write(out.samples, np.stack(inputs), got_lite[:len(inputs)], want[:len(inputs)],
                      len(labels), report["tflite_top1"])
    elif os.path.exists(out.samples):  # an earlier export's, for another model
        os.remove(out.samples)
    files.write_json(out.report, report)
    files.write_json(out.latest_report, report)
    return report

