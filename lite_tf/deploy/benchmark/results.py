"""Benchmark results: the ``lite_tf.benchmark/2`` documents that host and phone benchmarks emit
(JSON Schema ``schema.json`` beside this module; checked on both sides), where they ran, and the
top-1 that ``python -m export`` reported for a model."""

from __future__ import annotations

import json
import os
import platform
from importlib.metadata import PackageNotFoundError, version

import jsonschema

from lite_tf import checks, rundir
from lite_tf.errors import InputError

SCHEMA = "lite_tf.benchmark/2"
SCHEMA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema.json")


def report(results: list[dict]) -> dict:
    """The ``lite_tf.benchmark/2`` document: where it ran and one entry per model and thread count."""
    return {"schema": SCHEMA, "device": device(), "results": results}


def reported_top1(path: str) -> float | None:
    """``tflite_top1`` of the report ``python -m export`` wrote beside the model, if any."""
    try:
        with open(rundir.report_for(path)) as f:
            return json.load(f).get("tflite_top1")
    except (OSError, ValueError, AttributeError):
        return None


def validate(document, source: str) -> dict:
    """``document`` if it follows ``schema.json``, else a one-line InputError naming
    ``source`` and the first violation."""
    if isinstance(document, dict) and document.get("schema") == "lite_tf.benchmark/1":
        raise InputError(f"{source} is a lite_tf.benchmark/1 document, from an older lite_tf whose "
                         f"memory column meant the whole process: measure again")
    with open(SCHEMA_FILE) as f:
        wrong = checks.schema_problem(document, jsonschema.Draft202012Validator(json.load(f)))
    if wrong:
        raise InputError(f"{source} is not a {SCHEMA} document: {wrong}")
    return document


def load(path: str, source: str | None = None) -> dict:
    """A saved ``lite_tf.benchmark/2`` document (``--json`` output, or the phone app's), validated;
    errors name ``source`` (default: the path)."""
    source = source or path
    try:
        with open(path) as f:
            document = json.load(f)
    except OSError as e:
        raise InputError(f"cannot read {source}: {e.strerror}") from None
    except ValueError as e:
        raise InputError(f"{source} is not JSON: {e}") from None
    return validate(document, source)


def device_label(device: dict) -> str:
    """'host' for this machine's results, the phone's name for an app's."""
    return "host" if device["kind"] == "host" else device["name"]


def device() -> dict:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), cpu)
    except OSError:
        pass
    try:
        runtime = version("ai-edge-litert")
    except PackageNotFoundError:
        runtime = None
    return {"kind": "host", "name": platform.node(), "os": f"{platform.system()} {platform.release()}",
            "cpu": cpu, "cores": os.cpu_count() or 1,
            "runtime": {"name": "ai_edge_litert", "version": runtime}}
