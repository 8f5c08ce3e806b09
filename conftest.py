"""Doctests see NumPy as ``np`` and start from a fixed seed."""

import numpy as np
import pytest

import juanji


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace):
    doctest_namespace["np"] = np
    juanji.set_seed(0)
