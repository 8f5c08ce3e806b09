"""The documentation site: every page in the nav exists, every guide's Python runs as written,
and every public name the API reference lists has a docstring.

A ```python block runs unless the line before its fence is ``<!-- docs-test: skip (why) -->``
(for code that needs a network, a GPU-sized run or a long time). The blocks of a page run in
order in one namespace, in a temporary folder that holds a link to the tests' fixtures."""

import importlib
import inspect
import re
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
NAV_PAGE = re.compile(r"^\s*-\s+(?:[^:]+:\s+)?([\w./-]+\.md)\s*$")
FENCE = re.compile(r"^```python\s*$\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
SKIP = "<!-- docs-test: skip"
OPTIONAL = {"onnx.md": "onnxruntime", "keras-files.md": "h5py", "ray.md": "ray"}


def nav_pages(section=None):
    """The pages of mkdocs.yml's nav (of one top-level ``section`` if given), in order."""
    pages, current = [], None
    for line in (ROOT / "mkdocs.yml").read_text().split("nav:", 1)[1].splitlines():
        top = re.match(r"^  - ([^:]+):\s*(\S*)$", line)
        if top:
            current = top.group(1)
        match = NAV_PAGE.match(line)
        if match and section in (None, current):
            pages.append(match.group(1))
    return pages


def code_blocks(text):
    """The ```python blocks of a page's text that are to run, in order."""
    blocks = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        if not before.startswith(SKIP):
            blocks.append(match.group(1))
    return blocks


def test_every_page_in_the_nav_exists():
    pages = nav_pages()
    assert len(pages) > 20
    missing = [page for page in pages if not (DOCS / page).is_file()]
    assert missing == []


def test_the_code_block_reader_honours_the_skip_marker():
    text = "```python\na = 1\n```\n<!-- docs-test: skip (network) -->\n```python\nb = 2\n```\n"
    assert code_blocks(text) == ["a = 1\n"]


RUN_PAGES = ["getting-started.md", *nav_pages("Guides")]


@pytest.mark.parametrize("page", RUN_PAGES)
def test_the_code_of_a_guide_runs(page, tmp_path, monkeypatch):
    if page in OPTIONAL:
        pytest.importorskip(OPTIONAL[page])
    blocks = code_blocks((DOCS / page).read_text())
    (tmp_path / "tests").symlink_to(ROOT / "tests")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JUANJI_DATA_DIR", str(tmp_path / "data"))
    namespace = {"__name__": "__main__"}
    for number, block in enumerate(blocks, 1):
        try:
            exec(compile(block, f"{page}, block {number}", "exec"), namespace)
        except Exception as error:
            raise AssertionError(f"{page}, block {number} failed: {error!r}") from error


def api_modules():
    """The modules the API reference renders (its ``::: module`` lines)."""
    names = []
    for page in sorted((DOCS / "api").glob("*.md")):
        names += re.findall(r"^::: ([\w.]+)\s*$", page.read_text(), re.MULTILINE)
    return names


def public_names(module):
    """``module.__all__``, or else the classes and functions defined in it without a ``_``."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == module.__name__
    ]


def test_every_public_module_of_juanji_is_in_the_api_reference():
    import juanji

    listed = set(api_modules())
    modules = [n for n in juanji.__all__ if isinstance(getattr(juanji, n), types.ModuleType)]
    assert [f"juanji.{n}" for n in modules if f"juanji.{n}" not in listed] == []


def test_every_public_name_in_the_api_reference_has_a_docstring():
    undocumented, checked = [], 0
    for module_name in api_modules():
        module = importlib.import_module(module_name)
        if not (module.__doc__ or "").strip():
            undocumented.append(module_name)
        for name in public_names(module):
            value = getattr(module, name)
            documentable = inspect.isclass(value) or inspect.isroutine(value)
            documentable = documentable or isinstance(value, types.ModuleType)
            checked += documentable
            if documentable and not (value.__doc__ or "").strip():
                undocumented.append(f"{module_name}.{name}")
            if inspect.isclass(value):
                undocumented += [f"{module_name}.{name}.{m}" for m in undocumented_members(value)]
    assert checked > 300
    assert undocumented == []


def undocumented_members(cls):
    """The public methods and properties ``cls`` defines that have no docstring, neither
    their own nor that of the member they override."""
    missing = []
    for name, member in vars(cls).items():
        if name.startswith("_") or not (inspect.isfunction(member) or isinstance(member, property)):
            continue
        docs = [getattr(base, name, None).__doc__ for base in cls.__mro__ if name in vars(base)]
        if not any((doc or "").strip() for doc in docs):
            missing.append(name)
    return missing


def test_the_readme_links_to_files_that_exist():
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    local = [t for t in targets if "://" not in t]
    assert len(local) > 10
    assert [t for t in local if not (ROOT / t).exists()] == []


def test_every_page_under_docs_is_in_the_nav():
    pages = set(nav_pages())
    on_disk = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert sorted(on_disk - pages) == []
