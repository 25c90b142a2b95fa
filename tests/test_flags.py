"""Every command-line flag of every command is checked from its one declaration (``cli.flag``: a
type and a check from ``lite_tf.checks``, as the settings are): any value either parses to one the
check accepts or is one line on stderr with exit code 2, before the command does anything."""

import argparse
import contextlib
import io
import re

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from lite_tf import cli, commands

# Arguments each command needs besides the flag under test (never run: only parsed).
NEEDS = {"train": ["--config", "quickstart"], "export": [], "search": ["--config", "search_digits"],
         "bench": ["m.tflite"],
         "phone": ["m.tflite"], "report": ["run"], "profile": ["mobilenet_v2_100"],
         "weights": ["import", "mobilenet_v2_100", "c.pth"]}


def parser_of(name):
    module = commands.commands()[name]
    return cli.make_parser(module, f"lite-tf {name}")


def options(parser):
    """(flag, action) of every option that takes a value, subcommands' included."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += options(sub)
        elif action.option_strings and action.nargs != 0 and action.dest != "help":
            found.append((action.option_strings[0], action))
    return found


FLAGS = [(name, flag) for name in NEEDS for flag, _ in options(parser_of(name))]


def test_the_commands_are_all_here():
    assert set(NEEDS) == set(commands.commands())


@pytest.mark.parametrize("name", NEEDS)
def test_every_number_flag_is_declared_with_its_check(name):
    """A bare ``type=int`` or ``type=float`` would let -5, 0 or nan through to the work."""
    bare = [flag for flag, action in options(parser_of(name)) if action.type in (int, float)]
    undeclared = [flag for flag, action in options(parser_of(name))
                  if callable(action.type) and not hasattr(action.type, "check")]
    assert bare == [] and undeclared == []


def parse(name, argv):
    """The parsed namespace, or (exit code, stderr lines)."""
    parser, err = parser_of(name), io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            return parser.parse_args(argv)
    except SystemExit as e:
        return e.code, err.getvalue().splitlines()


VALUES = st.one_of(st.integers(-10**6, 10**6).map(str), st.floats(allow_nan=True).map(str),
                   st.sampled_from(["", "0", "-1", "1", "1,2,4", "1,,2", "nan", "inf", "1e3",
                                    "0.5", "xnnpack,gpu", "int8", "x" * 300]),
                   st.text(max_size=12))


@pytest.mark.parametrize("name,flag", FLAGS)
@given(text=VALUES)
@hypothesis_settings(max_examples=25, deadline=None)
def test_any_flag_value_parses_to_a_checked_value_or_is_one_line_exit_2(name, flag, text):
    got = parse(name, [*NEEDS[name], f"{flag}={text}"])
    if isinstance(got, tuple):
        code, err = got
        assert code == 2 and len(err) == 1 and re.match(f"lite-tf {name}( import)?: error: ", err[0]), err
        return
    action = dict(options(parser_of(name)))[flag]
    value = getattr(got, action.dest)
    declared = getattr(action.type, "check", None)
    for one in (value if isinstance(value, list) else [value]):
        if action.choices is not None:
            assert one in action.choices
        if declared is not None:
            assert declared(one) is None, (flag, text, one)


TOKENS = st.lists(st.one_of(st.sampled_from(
    ["--runs", "--threads", "--timeout", "--int8", "--float16", "--io", "--out", "--width",
     "--input-size", "--config", "--eval-samples", "--delegates", "-x", "--", "--json"]),
    VALUES), max_size=6)


@pytest.mark.parametrize("name", NEEDS)
@given(argv=TOKENS)
@hypothesis_settings(max_examples=30, deadline=None)
def test_any_command_line_parses_or_is_one_line_exit_2(name, argv):
    got = parse(name, [*NEEDS[name], *argv])
    if isinstance(got, tuple):
        code, err = got
        assert code == 2 and len(err) == 1 and re.match(f"lite-tf {name}( import)?: error: ", err[0]), err


@pytest.mark.parametrize("flag,text,says", [
    ("--runs", "0", "argument --runs: must be >= 1, got '0'"),
    ("--runs", "2.5", "argument --runs: expected an integer, got '2.5'"),
    ("--threads", "1,0", "argument --threads: must be >= 1, got '1,0'"),
    ("--threads", "", "argument --threads: expected an integer list like 1,2,4, got ''"),
    ("--warmup", "-1", "argument --warmup: must be >= 0, got '-1'"),
    ("--timeout", "nan", "argument --timeout: must be > 0, got 'nan'"),
    ("--timeout", "-inf", "argument --timeout: must be > 0, got '-inf'"),
    ("--delegates", "gpu,npu", "argument --delegates: must be one of xnnpack, cpu, gpu (did you "
                               "mean 'gpu'?), got 'gpu,npu'"),
])
def test_phone_flags_say_what_they_accept(flag, text, says):
    assert parse("phone", ["m.tflite", f"{flag}={text}"]) == (2, [f"lite-tf phone: error: {says}"])


def test_flag_declarations():
    runs = cli.flag(int, cli.checks.at_least(1))
    assert runs("3") == 3 and runs.check(0) == ">= 1"
    threads = cli.flag(int, cli.checks.at_least(1), many=True)
    assert threads("1, 2,4") == [1, 2, 4]
    with pytest.raises(argparse.ArgumentTypeError, match="must be > 0, got 'inf'"):
        cli.flag(float, cli.checks.above(0))("inf")
