"""docs/lessons: every page is its study's output, and the README's table is built from it."""

import json
import pathlib

import pytest

from juanji.explain import studies

ROOT = pathlib.Path(__file__).resolve().parents[2]
LESSONS = ROOT / "docs" / "lessons"


@pytest.mark.parametrize("name", sorted(studies.STUDIES))
def test_each_page_is_rendered_from_its_study_json_at_full_size(name):
    figures = json.loads((LESSONS / f"{name}.json").read_text())
    assert figures["study"] == name and figures["quick"] is False
    page = (LESSONS / f"{name}.md").read_text()
    assert page == studies.render_page(name, figures), f"re-run: {studies.command(name)}"
    assert f"`{studies.command(name)}`" in page or studies.command(name) + "\n" in page
    assert (LESSONS / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_readme_lessons_table_comes_from_the_study_outputs():
    readme = (ROOT / "README.md").read_text()
    assert studies.lessons_table(LESSONS) in readme


def test_a_changed_figure_changes_the_page():
    figures = json.loads((LESSONS / "cross-entropy.json").read_text())
    figures["minus_log_q4"] = 9.8765
    assert "9.8765" in studies.render_page("cross-entropy", figures)
