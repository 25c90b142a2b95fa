"""The command layer: ``lite-tf`` lists its subcommands, every subcommand explains itself with
--help, and bad input to each is one line on stderr with exit code 2."""

import os
import shutil
import subprocess
import sys

import pytest

from conftest import run_script, snapshot
from lite_tf import cli, commands

NAMES = ["train", "export", "search", "bench", "phone", "report", "profile", "weights"]


def test_every_command_module_is_a_subcommand():
    assert list(commands.commands()) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_subcommand_help(name, capsys):
    with pytest.raises(SystemExit) as exit:
        commands.main([name, "--help"])
    out = capsys.readouterr().out
    assert exit.value.code == 0 and out.startswith(f"usage: lite-tf {name} ")
    description = " ".join(cli.describe(commands.commands()[name]).split())
    assert description[:60] in " ".join(out.split()) and "--verbose" in out


def bad(name, tmp_path):
    """Arguments that are wrong for command ``name``, and the start of the one error line."""
    return {
        "train": (["--config", "no_such_config"], "config 'no_such_config' not found"),
        "export": (["--float16", "--io", "uint8"], "--io uint8 applies to --int8 only"),
        "search": (["--config", "search_digits", "--gin_bindings", "search.device = 'gpu'"],
                   "search.device must be one of host, phone, table"),
        "bench": ([str(tmp_path / "missing.tflite")], "no such model file"),
        "phone": (["--timeout", "0", "m.tflite"], "argument --timeout: must be > 0, got '0'"),
        "report": ([str(tmp_path / "nope")], "no training run at"),
        "profile": (["mobilenetv2"], "unknown model 'mobilenetv2'"),
        "weights": (["import", "mobilenet_v5", "x.pth"], "unknown model 'mobilenet_v5'"),
    }[name]


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_is_one_line_exit_2(name, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args, message = bad(name, tmp_path)
    before = snapshot(tmp_path)
    try:
        code = commands.main([name, *args])
    except SystemExit as e:  # argparse
        code = e.code
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(f"lite-tf {name}: error: ") and message in err[0], err
    assert snapshot(tmp_path) == before


def test_no_command_is_one_line():
    with pytest.raises(SystemExit) as exit:
        commands.main([])
    assert exit.value.code == 2


def test_installed_console_script_lists_the_subcommands():
    """`lite-tf --help` (the script pip installs; `python -m lite_tf` where it is not)."""
    script = shutil.which("lite-tf", path=os.path.dirname(sys.executable))
    proc = (subprocess.run([script, "--help"], capture_output=True, text=True) if script
            else run_script(["-m", "lite_tf"], ["--help"]))
    assert proc.returncode == 0, proc.stderr
    listed = [line.split()[0] for line in proc.stdout.splitlines() if line.startswith("    ")
              and line.split()[0] in NAMES]
    assert listed == NAMES
    assert proc.stderr == ""
