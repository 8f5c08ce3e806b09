"""Imports point down the stack (ARCHITECTURE.md): a module may import its own level or lower."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "juanji"

# Level of each top-level module or subpackage of juanji, bottom to top.
# fmt: off
LEVELS = {
    "_blas_threads": 0, "backend": 0, "parallel": 0, "registry": 0,
    "autograd": 1, "random": 1,
    "ops": 2,
    "initializers": 3, "regularizers": 3, "data": 3,
    "layers": 4, "losses": 4, "metrics": 4, "optimizers": 4, "activations": 4,
    "callbacks": 5, "saving": 5, "interop": 5, "pairing": 5,
    "models": 6, "functional": 6, "trainer": 6,
    "datasets": 7, "preprocessing": 7, "utils": 7, "zoo": 7, "features": 7, "explain": 7,
    "mvs": 7,
    "report": 8, "serve": 8, "cli": 9, "runs": 9, "__main__": 9,
    "distributed": 9,  # a sweep's trial is a `juanji train` run
    "compat": 8,
}
# fmt: on


def _level(module_path):
    parts = module_path.split(".")
    return LEVELS.get(parts[1] if len(parts) > 1 else "__init__")


def _juanji_imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("juanji."))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "juanji":
                yield from (f"juanji.{a.name}" for a in node.names)
            elif node.module.startswith("juanji."):
                yield node.module


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts)
        if rel.parts[-1] != "__init__" or len(rel.parts) > 2:
            yield name, path


@pytest.mark.parametrize("name,path", list(_modules()), ids=lambda v: str(v))
def test_imports_point_down(name, path):
    own = _level(name.removesuffix(".__init__"))
    assert own is not None, f"{name} has no level in LEVELS: add it"
    for target in _juanji_imports(path):
        level = _level(target)
        assert level is not None, f"{name} imports {target}, which has no level"
        assert level <= own, f"upward import: {name} (level {own}) imports {target} ({level})"


def test_an_upward_import_is_caught(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from juanji.models import Sequential\n")
    imported = list(_juanji_imports(bad))
    assert imported == ["juanji.models"] and _level("juanji.models") > _level("juanji.ops.conv")
