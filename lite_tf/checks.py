"""Value checks, declared once beside a setting and applied wherever the value comes in.

``field`` declares a dataclass field with its check and ``validate`` checks every field of an
instance, in one line naming the binding (``train.epochs must be >= 1, got -1``). A check is called
with a value and returns None when it is fine, else what the value must be
(">= 1", "in [0, 1)", "one of sgd, rmsprop, adamw (did you mean 'sgd'?)"). ``problem`` adds the
check of the declared type (``int``, ``float | None``, ...), so a setting is validated from its
one declaration: type, default, help and range.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from typing import Any, Callable

import jsonschema

from lite_tf.errors import InputError


@dataclasses.dataclass(frozen=True)
class Check:
    """``expects`` describes the values ``accepts``."""

    expects: str
    accepts: Callable[[Any], bool]

    def __call__(self, value) -> str | None:
        return None if self.accepts(value) else self.expects


def _number(value) -> bool:
    """A finite int or float (not a bool, NaN or infinity)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def at_least(low: float) -> Check:
    return Check(f">= {low}", lambda v: _number(v) and v >= low)


def above(low: float) -> Check:
    return Check(f"> {low}", lambda v: _number(v) and v > low)


def within(low: float, high: float, *, high_open: bool = False, low_open: bool = False) -> Check:
    """A number in [low, high] (or with open ends)."""
    left, right = "(" if low_open else "[", ")" if high_open else "]"
    return Check(f"in {left}{low}, {high}{right}",
                 lambda v: _number(v) and (v > low if low_open else v >= low)
                 and (v < high if high_open else v <= high))


def pair(low: float, high: float | None = None) -> Check:
    """Two numbers ``(a, b)`` with ``low < a <= b`` (and ``b <= high``): a range."""
    top = f" <= {high}" if high is not None else ""
    return Check(f"a pair (a, b) with {low} < a <= b{top}",
                 lambda v: isinstance(v, (tuple, list)) and len(v) == 2 and all(map(_number, v))
                 and low < v[0] <= v[1] and (high is None or v[1] <= high))


class one_of:  # noqa: N801  (used like the other check constructors)
    """One of ``choices``, with the closest as a suggestion."""

    def __init__(self, *choices):
        self.choices = choices
        self.expects = "one of " + ", ".join(str(c) for c in choices)

    def __call__(self, value) -> str | None:
        if value in self.choices and type(value) in {type(c) for c in self.choices if c == value}:
            return None
        close = difflib.get_close_matches(str(value), [str(c) for c in self.choices], n=1)
        return self.expects + (f" (did you mean {close[0]!r}?)" if close else "")


TYPES = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,), "dict": (dict,),
         "tuple": (tuple, list)}
NAMES = {"int": "an integer", "float": "a number", "str": "a string", "bool": "True or False",
         "dict": "a dict", "tuple": "a tuple"}


def type_problem(annotation: str, value) -> str | None:
    """What ``value`` must be to have the declared type ``annotation`` (e.g. 'int | None'), or
    None. Names not in ``TYPES`` (a dataclass, ``Any``) are not checked here."""
    kinds = [k.strip() for k in str(annotation).split("|")]
    if value is None:
        return None if "None" in kinds else "set (not None)"
    known = [k for k in kinds if k != "None"]
    if not all(k in TYPES for k in known):
        return None
    for k in known:
        if isinstance(value, TYPES[k]) and not (isinstance(value, bool) and k != "bool"):
            return None
    return " or ".join(NAMES[k] for k in known) + (" or None" if "None" in kinds else "")


def accepts(annotation: str, check: Callable | None) -> str:
    """What a setting of type ``annotation`` with ``check`` accepts, for help tables."""
    kinds = [k.strip() for k in str(annotation).split("|")]
    named = " or ".join(NAMES.get(k, k) for k in kinds if k != "None" and k != "Any")
    text = " ".join(t for t in (named if not (check and check.expects.startswith("one of")) else "",
                                check.expects if check else "") if t)
    return text + (" or None" if "None" in kinds else "")


def problem(annotation: str, check: Callable | None, value) -> str | None:
    """The type's problem with ``value``, else the check's (None is not checked further)."""
    wrong = type_problem(annotation, value)
    if wrong or value is None or check is None:
        return wrong
    return check(value)


def field(default: Any, check: Callable | None = None, help: str = ""):  # noqa: A002
    """A dataclass field with its default, a check of its values (its declared type is always
    checked by ``validate``) and one line of help."""
    return dataclasses.field(default=default, metadata={"help": help, "check": check})


def validate(instance, prefix: str) -> None:
    """InputError, in one line, for the first field of the dataclass ``instance`` whose value has
    the wrong type or is out of range; ``prefix`` names it as bound (``train``, ``prune.Pruning``)."""
    for f in dataclasses.fields(instance):
        value = getattr(instance, f.name)
        wrong = problem(f.type, f.metadata.get("check"), value)
        if wrong:
            raise InputError(f"{prefix}.{f.name} must be {wrong}, got {value!r}")


def schema_problem(document, validator: jsonschema.protocols.Validator) -> str | None:
    """The most relevant way ``document`` breaks a JSON Schema (``where: what``), or None."""
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is None:
        return None
    where = "".join(f"[{p!r}]" for p in error.absolute_path) or "the document"
    return f"{where}: {error.message}"
