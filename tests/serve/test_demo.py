"""The demo model: trained once into the cache folder, loaded from it afterwards."""

import pytest

from juanji import saving
from juanji.serve import demo


@pytest.fixture
def quick_training(monkeypatch, inspector):
    """Training replaced by the tests' already trained model; counts the calls."""
    calls = []

    def train(**kwargs):
        calls.append(kwargs)
        return inspector.model, 0.97

    monkeypatch.setattr(demo, "train_demo_model", train)
    return calls


def test_the_cache_folder_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert demo.cache_dir() == tmp_path / "juanji"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert demo.cache_dir() == tmp_path / "home" / ".cache" / "juanji"


def test_the_demo_model_is_trained_once_then_loaded(quick_training, tmp_path):
    lines = []
    path = demo.demo_model_path(tmp_path, log=lines.append)
    assert path == tmp_path / demo.DEMO_FILE and path.is_file()
    assert "training the demo model" in lines[0] and "test accuracy 0.970" in lines[1]
    assert saving.read_extra(path)["class_names"] == demo.CLASS_NAMES
    assert quick_training == [{"epochs": demo.DEMO_EPOCHS, "augment": True}]
    lines.clear()
    assert demo.demo_model_path(tmp_path, log=lines.append) == path and lines == []
    assert len(quick_training) == 1


def test_an_unreadable_cached_model_is_trained_again(quick_training, tmp_path):
    (tmp_path / demo.DEMO_FILE).write_bytes(b"not a zip")
    lines = []
    path = demo.demo_model_path(tmp_path, log=lines.append)
    assert "cannot be read" in lines[0] and "training" in lines[1] and len(quick_training) == 1
    assert saving.load_model(path).count_params() == 35754


def test_augmented_training_adds_thinned_copies(monkeypatch):
    seen = {}

    def flow(self, x, y, **kwargs):
        seen["x"], seen["y"] = x, y
        raise StopIteration  # enough: the data is what this test looks at

    monkeypatch.setattr(demo.ImageDataGenerator, "flow", flow)
    try:
        demo.train_demo_model(epochs=1)
    except StopIteration:
        pass
    x = seen["x"]
    assert len(x) == 3 * 1437 and len(seen["y"]) == 3 * 1437
    original, thinnest = x[:1437], x[-1437:]
    assert (thinnest <= original + 1e-6).all()
    assert (thinnest > 0).mean() < (original > 0).mean()
