"""Each Keras 1 compatibility test starts with hints on and unseen, Theano's image ordering,
and ``keras`` not installed."""

import pytest

from juanji.compat import keras1
from juanji.compat.keras1 import backend, hints


@pytest.fixture(autouse=True)
def _fresh_keras1_state(monkeypatch):
    monkeypatch.setattr(hints, "_shown", set())
    monkeypatch.delenv("JUANJI_NO_HINTS", raising=False)
    monkeypatch.delenv("KERAS_IMAGE_DIM_ORDERING", raising=False)
    monkeypatch.setattr(backend, "_ordering", None)
    yield
    keras1.uninstall()
