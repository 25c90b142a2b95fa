"""The pipeline's structure holds: one owner of the run directory's names, an acyclic module-level
import graph, function-local imports only with a stated reason, and the stage registry open to a
new stage without touching the trainer or the exporter."""

import ast
import json
import os
import pathlib

import pytest

from conftest import ROOT
from lite_tf import rundir
from lite_tf.compression import stage as stages
from lite_tf.deploy.export import export
from lite_tf.deploy.report import method
from lite_tf.training.launch import launch

PACKAGE = pathlib.Path(ROOT) / "lite_tf"
CONTRACT = PACKAGE / "rundir.py"
# Names only the run contract may spell: files and folders of a run directory.
RUN_FILES = ("run.json", "config.gin", "command.json", "metrics.json", "model.keras", "model.h5",
             "best.weights.h5", "export_report.json", "labels.txt", ".report.json", ".samples")
RUN_FOLDERS = ("runs", "export", "backup", "checkpoints", "tensorboard", "saved_model")


def modules() -> dict[str, pathlib.Path]:
    """Every module of lite_tf by dotted name (a package by its __init__)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def docstrings(tree) -> set[int]:
    """ids of the docstring constants of a module, its classes and functions."""
    nodes = [tree, *(n for n in ast.walk(tree) if isinstance(
        n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))]
    return {id(n.body[0].value) for n in nodes if n.body and isinstance(n.body[0], ast.Expr)
            and isinstance(n.body[0].value, ast.Constant)}


def run_names(source: str) -> list[str]:
    """The run-directory names spelled in a module's string literals (docstrings aside)."""
    tree = ast.parse(source)
    skip = docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            found += [n for n in RUN_FILES if n in node.value]
            found += [n for n in RUN_FOLDERS if node.value.strip("/") == n and n != "runs"
                      or node.value.startswith(f"{n}/")]
    return found


def test_only_the_run_contract_spells_run_directory_names():
    offenders = {name: names for name, path in modules().items() if path != CONTRACT
                 and (names := run_names(path.read_text()))}
    assert offenders == {}
    assert {"run.json", "config.gin", "metrics.json", "export"} <= set(run_names(CONTRACT.read_text()))


def test_the_literal_check_finds_a_run_file_name():
    """The check above can fail: a path built from a run-directory name is found, a docstring
    that mentions one is not."""
    assert run_names('"""Writes metrics.json."""\nimport os\np = os.path.join(d, "metrics.json")\n') \
        == ["metrics.json"]
    assert sorted(run_names('x = f"{run}/export"\ny = "runs/latest"\n')) == ["export", "runs"]
    assert run_names('parser.add_argument("runs", nargs="+")\n') == []
    assert run_names('"""The export/ folder."""\n') == []


def module_imports(name: str, path: pathlib.Path, known: set[str]) -> set[str]:
    """The lite_tf modules ``name`` imports when it is imported (not inside functions)."""
    edges = set()

    def visit(body):
        for node in body:
            if isinstance(node, ast.Import):
                edges.update(a.name for a in node.names if a.name in known)
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    target = f"{node.module}.{alias.name}"
                    edges.add(target if target in known else node.module)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue  # runs when called, not when imported
            for field in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(node, field, None)
                if isinstance(inner, list):
                    visit(inner)

    visit(ast.parse(path.read_text()).body)
    return {e for e in edges if e in known and e != name}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` as a path (first node repeated at the end), or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def import_graph() -> dict[str, set[str]]:
    found = modules()
    return {name: module_imports(name, path, set(found)) for name, path in found.items()}


def test_module_level_import_graph_is_acyclic():
    graph = import_graph()
    assert graph["lite_tf.training.trainer"] >= {"lite_tf.compression.stage", "lite_tf.rundir"}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_cycle_check_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def local_imports(path: pathlib.Path) -> list[tuple[int, str]]:
    """(line, text) of every import inside a function of ``path``."""
    lines = path.read_text().splitlines()
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Import, ast.ImportFrom)):
                    found.append((inner.lineno, lines[inner.lineno - 1].strip()))
    return found


def test_function_local_imports_say_why():
    """Only optional or heavy dependencies (torch, matplotlib, sklearn's data) or start-up time
    (TensorFlow after --help) are imported inside functions, each with a reason on its line."""
    unexplained = [f"{path.relative_to(ROOT)}:{line}: {text}" for path in modules().values()
                   for line, text in local_imports(path) if "#" not in text]
    assert unexplained == []


@pytest.fixture
def throwaway_stage():
    """A stage registered the way a stage module registers one: it freezes the stem."""
    @stages.register
    class FreezeStem(stages.Stage):
        name, label, note = "freeze_stem", "frozen stem", "trained with a frozen stem"

        def prepare(self, net, options, context):
            net.get_layer("stem").trainable = False
            return stages.Prepared(net, report=lambda model: {"frozen": ["stem"]})

        def summary(self, final):
            return [("frozen", ", ".join(final["frozen"]))]

    yield FreezeStem
    stages._REGISTRY.pop(FreezeStem.name)  # noqa: SLF001


@pytest.mark.slow  # a training stage and an export
def test_a_new_stage_runs_through_train_and_export(throwaway_stage, trained, tmp_path):
    """Registering a Stage subclass is all a new stage needs: train.compress picks it, the run
    records it, export names it and the report lists it in the method chain."""
    done = launch(["qat"], ["train.compress = 'freeze_stem'", "train.epochs = 1",
                            "train.verbose = 0", "train.saved_model = False"], str(tmp_path / "run"),
                  init_from=str(trained))
    assert done.stage.name == "freeze_stem" and done.final["frozen"] == ["stem"]
    assert done.stage.summary(done.final) == [("frozen", "stem")]
    run = rundir.find_run(str(tmp_path / "run"))
    assert run.stage == "freeze_stem" and run.parent == os.path.realpath(trained)
    parent = stages.load_model(rundir.find_run(str(trained)))
    child = stages.load_model(run)
    for ours, theirs in zip(child.get_layer("stem").weights, parent.get_layer("stem").weights):
        assert (ours.numpy() == theirs.numpy()).all()
    assert not (child.get_layer("s1b1_dw1").weights[0].numpy()
                == parent.get_layer("s1b1_dw1").weights[0].numpy()).all()
    said = []
    report = export(run, "float32", eval_samples=32, device_samples=0, progress=said.append)
    assert report["compress"] == "freeze_stem" and "trained with a frozen stem" in said[0]
    assert method(run) == "frozen stem -> PTQ"
    assert json.loads((tmp_path / "run" / "run.json").read_text())["settings"]["compress"] \
        == "freeze_stem"
