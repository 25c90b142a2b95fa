"""The docs stay true: every lite_tf command the README and docs/ show (```bash blocks, ``$ `` lines
of examples) parses with the command's own parser (so its flags exist), the scripts they run exist,
and the training docs list every train.* setting with its default."""

import pathlib
import re
import shlex

import pytest

from conftest import ROOT
from lite_tf import cli, commands
from lite_tf.search import settings as search_settings
from lite_tf.training import settings

PAGES = [pathlib.Path(ROOT) / "README.md", *sorted((pathlib.Path(ROOT) / "docs").glob("*.md"))]
# python -m <module> -> the command it runs
MODULES = {"train": "train", "export": "export", "export.benchmark": "bench",
           "export.phone": "phone", "export.report": "report", "lite_tf.weights": "weights",
           "lite_tf": None}


def bash_commands(page: pathlib.Path) -> list[str]:
    """The commands a page shows: the lines of its ```bash blocks and the ``$ `` lines of its
    other code blocks, one per ``&&``-separated part."""
    text = page.read_text()
    lines = [line for block in re.findall(r"```bash\n(.*?)```", text, re.S)
             for line in block.splitlines()]
    lines += [line[2:] for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S)
              for line in block.splitlines() if line.startswith("$ ")]
    return [part.split("  #")[0].strip() for line in lines for part in line.split("&&")
            if part.strip()]


def lite_tf_command(words: list[str]) -> tuple[str, list[str]] | None:
    """(command name, its arguments) of a lite_tf command line, else None."""
    if words[:1] == ["lite-tf"]:
        return words[1], words[2:]
    if words[:2] in (["python", "-m"], ["python3", "-m"]) and words[2] in MODULES:
        name = MODULES[words[2]]
        return (words[3], words[4:]) if name is None else (name, words[3:])
    return None


def documented() -> list[tuple[str, str]]:
    return [(page.name, command) for page in PAGES for command in bash_commands(page)]


def test_the_readme_opens_with_the_two_fresh_machine_commands():
    found = bash_commands(PAGES[0])
    assert "pip install ." in found and "python -m train --config quickstart" in found
    assert "pip install '.[test,torch]'" in found and "python -m pytest" in found


@pytest.mark.parametrize("page, command", documented())
def test_documented_command_parses(page, command):
    words = shlex.split(command)
    if words[0] == "python" and words[1].endswith(".py"):
        assert (pathlib.Path(ROOT) / words[1]).is_file(), command
        return
    found = lite_tf_command(words)
    if found is None:  # pip, venv, tensorboard, cd, ...
        return
    name, args = found
    if name.startswith("-"):  # lite-tf's own options
        assert name in ("--help", "-h", "--version"), command
        return
    module = commands.commands()[name]
    parser = cli.make_parser(module, f"lite-tf {name}")
    parser.parse_args(args)  # exits 2 with one line on an unknown flag


def test_training_docs_list_every_setting():
    text = (pathlib.Path(ROOT) / "docs" / "training.md").read_text()
    for section, name, default, accepts, help in settings.describe():
        assert f"| `{name}` | `{default}` | {accepts} | {help} |" in text, name


def test_search_docs_list_every_setting():
    text = (pathlib.Path(ROOT) / "docs" / "search.md").read_text()
    for name, default, accepts, help in search_settings.describe():
        assert f"| `{name}` | `{default}` | {accepts} | {help} |" in text, name


def test_the_readme_shows_what_lite_tf_help_prints(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit):
        commands.main(["--help"])
    printed = capsys.readouterr().out.rstrip()
    shown = re.search(r"\$ lite-tf --help\n(.*?)\n```", PAGES[0].read_text(), re.S)[1]
    assert shown == printed
