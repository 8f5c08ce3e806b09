"""``import keras`` resolves to the compatibility modules only once installed; install refuses
next to a real Keras; scripts run as ``__main__`` with their arguments."""

import importlib
import os
import subprocess
import sys
import types

import numpy as np
import pytest

from juanji.compat import keras1
from juanji.compat.keras1 import importer
from juanji.compat.keras1 import layers as k1_layers


def test_importing_the_package_installs_nothing():
    code = (
        "import sys, juanji.compat.keras1 as k\n"
        "assert not k.installed() and 'keras' not in sys.modules\n"
        "assert not any(type(f).__name__ == '_KerasFinder' for f in sys.meta_path)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert not keras1.installed() and "keras" not in sys.modules


def test_install_resolves_every_keras1_module_and_uninstall_undoes_it():
    assert keras1.install() is True and keras1.install() is False
    keras = importlib.import_module("keras")
    assert keras.__version__ == keras1.KERAS_VERSION
    for name in keras1.MODULES:
        assert importlib.import_module(name).__name__ == name
    from keras.layers.convolutional import Convolution2D
    from keras.utils import np_utils

    assert Convolution2D is k1_layers.Convolution2D and keras.layers.Convolution2D is Convolution2D
    assert keras.layers.core.Dense is k1_layers.Dense and callable(np_utils.to_categorical)
    keras1.uninstall()
    assert not keras1.installed()
    assert not any(n == "keras" or n.startswith("keras.") for n in sys.modules)


def test_a_keras_module_that_is_not_provided_is_an_import_error():
    keras1.install()
    with pytest.raises(ModuleNotFoundError, match="'keras.layers.recurrent'.*provides keras,"):
        importlib.import_module("keras.layers.recurrent")


def test_from_import_of_a_module_not_provided_lists_what_is():
    keras1.install()
    with pytest.raises(ModuleNotFoundError, match="'keras.datasets.imdb'.*keras.datasets.mnist"):
        exec("from keras.datasets import imdb", {})
    with pytest.raises(ModuleNotFoundError, match="'keras.layers.recurrent'.*provides keras,"):
        exec("from keras.layers import recurrent", {})
    with pytest.raises(ImportError, match="cannot import name 'Nope'"):
        exec("from keras.layers.core import Nope", {})  # a missing name in a module: as Python


def test_cifar10_loads_as_keras1_gave_it(monkeypatch):
    from juanji.datasets import cifar10

    images, labels = np.zeros((4, 32, 32, 3), np.uint8), np.zeros((4, 1), np.uint8)
    monkeypatch.setattr(cifar10, "load_data", lambda: ((images, labels), (images[:2], labels)))
    keras1.install()
    namespace = {}
    exec("from keras.datasets import cifar10\nresult = cifar10.load_data()", namespace)
    (x_train, y_train), (x_test, _) = namespace["result"]
    assert x_train.shape == (4, 3, 32, 32) and x_test.shape == (2, 3, 32, 32)  # 'th'
    assert y_train.shape == (4, 1)


def test_install_refuses_when_a_real_keras_is_imported(monkeypatch):
    fake = types.ModuleType("keras")
    fake.__file__ = "/site-packages/keras/__init__.py"
    monkeypatch.setitem(sys.modules, "keras", fake)
    with pytest.raises(RuntimeError, match="real Keras is already imported.*/site-packages/keras"):
        keras1.install()
    assert not keras1.installed() and sys.modules["keras"] is fake


def test_uninstall_leaves_a_foreign_keras_alone(monkeypatch):
    keras1.install()
    fake = types.ModuleType("keras.foreign")
    monkeypatch.setitem(sys.modules, "keras.foreign", fake)
    keras1.uninstall()
    assert sys.modules["keras.foreign"] is fake


SCRIPT = """
import sys
import keras
from keras.models import Sequential
from helper import VALUE
print("args", sys.argv[1:], VALUE, __name__, keras.__version__)
sys.exit(int(sys.argv[1]))
"""


def _write_script(folder):
    (folder / "helper.py").write_text("VALUE = 42\n")
    script = folder / "script.py"
    script.write_text(SCRIPT)
    return script


def test_run_script_runs_main_with_argv_and_the_scripts_folder_on_the_path(tmp_path, capsys):
    script = _write_script(tmp_path)
    argv, path = list(sys.argv), list(sys.path)
    with pytest.raises(SystemExit) as exit_info:
        keras1.run_script(script, ["3", "--flag"])
    assert exit_info.value.code == 3
    assert "args ['3', '--flag'] 42 __main__ 1.2.2" in capsys.readouterr().out
    assert sys.argv == argv and sys.path == path and not keras1.installed()


def test_run_script_refuses_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="path="):
        keras1.run_script(tmp_path / "missing.py")


def _module_main(*args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "JUANJI_NO_HINTS"}
    return subprocess.run(
        [sys.executable, "-m", "juanji.compat.keras1", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_the_module_runs_a_script_and_passes_its_exit_status(tmp_path):
    script = _write_script(tmp_path)
    result = _module_main(str(script), "0", cwd=tmp_path.parent)
    assert result.returncode == 0, result.stderr
    assert "args ['0'] 42 __main__ 1.2.2" in result.stdout
    assert _module_main(str(script), "5", cwd=tmp_path.parent).returncode == 5


def test_the_module_explains_its_usage(tmp_path):
    missing = _module_main(str(tmp_path / "missing.py"), cwd=tmp_path)
    assert missing.returncode == 2 and "no such file" in missing.stderr
    assert _module_main(cwd=tmp_path).returncode == 2
    shown = _module_main("--help", cwd=tmp_path)
    assert shown.returncode == 0 and "usage: python -m juanji.compat.keras1" in shown.stdout


def test_the_module_table_names_existing_compatibility_modules():
    for name in importer.MODULES[1:]:
        module = importlib.import_module("juanji.compat.keras1" + name[len("keras") :])
        assert all(hasattr(module, n) for n in module.__all__)
