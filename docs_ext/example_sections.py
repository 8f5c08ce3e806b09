"""A griffe extension for the API reference: juanji's docstrings head their doctests
``Example:``, which Google style reads as an admonition; it reads ``Examples:`` as doctests
and renders them as code. This renames the heading before the docstrings are parsed."""

import re

import griffe

_HEADING = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)


class ExampleSections(griffe.Extension):
    """Read every ``Example:`` section heading as ``Examples:``."""

    def on_object(self, *, obj, **kwargs):
        """Rename the heading in ``obj``'s docstring, if it has one."""
        if obj.docstring is not None:
            obj.docstring.value = _HEADING.sub(r"\1Examples:", obj.docstring.value)
