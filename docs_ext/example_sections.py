"""A griffe extension for the API reference, applied before the docstrings are parsed.

juanji's docstrings head their doctests ``Example:``, which Google style reads as an
admonition; it reads ``Examples:`` as doctests and renders them as code, so the heading is
renamed. The summary tables show a docstring's first line, so a first sentence wrapped over
several lines is joined into one."""

import re

import griffe

_HEADING = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)


def _join_first_paragraph(text):
    """Join the lines of ``text``'s first paragraph, up to a blank, indented or heading line."""
    lines = text.split("\n")
    end = 1
    while end < len(lines):
        line = lines[end]
        if not line.strip() or line[0].isspace() or line.rstrip().endswith(":"):
            break
        end += 1
    return " ".join(lines[:end]) + "".join("\n" + line for line in lines[end:])


class ExampleSections(griffe.Extension):
    """Read ``Example:`` headings as ``Examples:`` and join wrapped first sentences."""

    def on_object(self, *, obj, **kwargs):
        """Rewrite ``obj``'s docstring, if it has one."""
        if obj.docstring is not None:
            text = _HEADING.sub(r"\1Examples:", obj.docstring.value)
            obj.docstring.value = _join_first_paragraph(text)

    def on_package(self, *, pkg, **kwargs):
        """Rewrite a package's own docstring (not passed to ``on_object``)."""
        self.on_object(obj=pkg)
