"""The pages docs/onnx.md and docs/keras-files.md: their Python blocks run, in order."""

import pathlib
import re
import shutil

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = pathlib.Path(__file__).parent / "fixtures"


def _python_blocks(page):
    return re.findall(r"^```python\n(.*?)^```", (ROOT / "docs" / page).read_text(), re.M | re.S)


@pytest.mark.parametrize(
    "page, needs", [("onnx.md", ("onnx", "onnxruntime")), ("keras-files.md", ("h5py",))]
)
def test_the_page_runs(page, needs, tmp_path, monkeypatch):
    for module in needs:
        pytest.importorskip(module)
    # The pages run from the repository root; here, from a copy of the files they read.
    shutil.copytree(FIXTURES, tmp_path / "tests" / "interop" / "fixtures")
    monkeypatch.chdir(tmp_path)
    blocks = _python_blocks(page)
    assert len(blocks) >= 3
    namespace = {}
    for index, block in enumerate(blocks):
        exec(compile(block, f"{page}, block {index}", "exec"), namespace)
