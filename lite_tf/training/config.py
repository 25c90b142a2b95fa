"""Gin configs for training: finding a config by name, parsing configs and bindings, and turning
gin's errors into one line (with a suggestion for a misspelled ``train.*`` setting)."""

from __future__ import annotations

import difflib
import logging
import os
import re

import gin

from lite_tf.compression import stage
from lite_tf.errors import InputError
from lite_tf.training import settings

# configs/ of the current directory (a clone), then the one installed beside the package.
CONFIG_DIRS = ("configs", os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "configs"))


def resolve_config(name: str) -> str:
    """A config's absolute path, from a path or a name in ``configs/`` ('quickstart')."""
    candidates = [name] + [os.path.join(d, n) for d in CONFIG_DIRS for n in (name, f"{name}.gin")]
    for path in candidates:
        if os.path.isfile(path):
            return os.path.abspath(path)
    raise InputError(f"config {name!r} not found (neither a file nor in ./configs)")


def gin_error(error: Exception) -> InputError:
    """One line for a gin parse error, with a suggestion for a misspelled train.* parameter."""
    lines = str(error).splitlines()
    line = next((l.strip() for l in lines if "Failed to parse" in l), lines[0] if lines else "")
    unknown = re.match(r"Configurable 'train' doesn't have a parameter named '(\w+)'", line)
    if unknown:
        line = line.rstrip(".")
        close = difflib.get_close_matches(unknown[1], settings.FIELDS)
        line += f" (did you mean {close[0]!r}?)" if close else ""
    return InputError(f"gin: {line}")


def parse(paths: list[str], bindings: list[str]) -> None:
    """Parse config files (later ones win) and then bindings into gin's global configuration."""
    stage.discover()  # every stage's settings (prune.Pruning, ...) registered before parsing
    gin.clear_config()
    _READ.clear()
    # For "include 'imagenet.gin'". Absolute paths only: gin's package-resource reader fails with
    # a TypeError on a relative prefix such as "configs" when that name is a namespace package.
    for directory in {os.path.dirname(p) for p in paths} | {os.path.abspath(d) for d in CONFIG_DIRS}:
        gin.add_config_file_search_path(directory)
    # gin logs an ERROR line for every search path an include is not found in before the one it is.
    logging.disable(logging.ERROR)
    try:
        gin.parse_config_files_and_bindings(paths, bindings)
    except (ValueError, SyntaxError, KeyError) as e:
        raise gin_error(e) from None
    finally:
        logging.disable(logging.NOTSET)


_READ: set[str] = set()  # bindings the run read with ``query`` (it passes their values itself)


def query(name: str):
    """A bound gin value, or None when the config does not bind it (the binding counts as used)."""
    _READ.add(name)
    try:
        return gin.query_parameter(name)
    except ValueError:
        return None


def _display(selector: str) -> str:
    """A configurable as bound in a config: ``train``, ``create_model``, ``prune.Pruning``."""
    found = gin.config._REGISTRY.get_match(selector)  # noqa: SLF001 (gin has no public lookup)
    if found is None:
        return selector
    return found.name if "." in (found.module or ".") else f"{found.module}.{found.name}"


def bound() -> set[tuple[str, str, str]]:
    """(scope, selector, parameter) of every binding in gin's parsed configuration."""
    return {(scope, selector, parameter) for (scope, selector), values in gin.config._CONFIG.items()
            for parameter in values}  # noqa: SLF001


def check_used(bindings: set[tuple[str, str, str]], set_by: dict[str, str]) -> None:
    """InputError naming the first of ``bindings`` (from ``bound``) that the run ignored, once its
    configurables have been called: one the run passes explicitly (``set_by`` says what decides
    it instead) or one of a configurable the run never calls."""
    operative = gin.config._OPERATIVE_CONFIG  # noqa: SLF001
    for scope, selector, parameter in sorted(bindings):
        name = _display(selector)
        binding = f"{scope + '/' if scope else ''}{name}.{parameter}"
        if (scope, selector) not in operative:
            raise InputError(f"{binding} is bound but never used: this run does not call {name}")
        if parameter not in operative[(scope, selector)] and f"{name}.{parameter}" not in _READ:
            instead = set_by.get(f"{name}.{parameter}")
            raise InputError(f"{binding} is bound but the run sets it itself" +
                             (f" (from {instead})" if instead else "") + ": remove the binding")
