"""``import keras...`` resolved to the Keras 1 compatibility modules, inside one process.

:func:`install` puts a finder first on ``sys.meta_path`` that answers for ``keras`` and the
Keras 1 modules in :data:`MODULES`: each ``keras.X`` becomes a module holding the public
names of ``juanji.compat.keras1.X``, and a package imports its modules with it, as Keras 1's
did. :func:`run_script` runs a whole script that way.
"""

import importlib
import importlib.abc
import importlib.machinery
import os
import runpy
import sys

KERAS_VERSION = "1.2.2"
_PACKAGE = "juanji.compat.keras1"
MODULES = (
    "keras",
    "keras.backend",
    "keras.callbacks",
    "keras.datasets",
    "keras.datasets.cifar10",
    "keras.datasets.mnist",
    "keras.layers",
    "keras.layers.advanced_activations",
    "keras.layers.convolutional",
    "keras.layers.core",
    "keras.layers.normalization",
    "keras.models",
    "keras.optimizers",
    "keras.preprocessing",
    "keras.preprocessing.image",
    "keras.regularizers",
    "keras.utils",
    "keras.utils.generic_utils",
    "keras.utils.np_utils",
)


def _children(name):
    return [m for m in MODULES if m.rpartition(".")[0] == name]


class _KerasLoader(importlib.abc.Loader):
    """Fills the module ``keras.X`` with the public names of ``juanji.compat.keras1.X``."""

    def create_module(self, spec):
        return None  # the default module object

    def exec_module(self, module):
        name = module.__name__
        if name == "keras":
            module.__version__ = KERAS_VERSION
        else:
            source = importlib.import_module(_PACKAGE + name[len("keras") :])
            module.__dict__.update({n: getattr(source, n) for n in source.__all__})
            module.__all__ = list(source.__all__)
        for child in _children(name):
            importlib.import_module(child)
        module.__getattr__ = _missing_attribute(name)


def _not_provided(fullname):
    return ModuleNotFoundError(
        f"No module named {fullname!r}: juanji's Keras 1 compatibility provides "
        f"{', '.join(MODULES)}",
        name=fullname,
    )


def _missing_attribute(package):
    """A module ``__getattr__``: ``from keras.X import name`` of a module not provided is a
    ModuleNotFoundError listing what is (Python would say only "cannot import name")."""

    def __getattr__(name):  # noqa: N807
        if name.startswith("_") or not _children(package):
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        raise _not_provided(f"{package}.{name}")

    return __getattr__


class _KerasFinder(importlib.abc.MetaPathFinder):
    """Answers for ``keras`` and ``keras.*``; a Keras module not provided is an ImportError."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras" and not fullname.startswith("keras."):
            return None
        if fullname not in MODULES:
            raise _not_provided(fullname)
        return importlib.machinery.ModuleSpec(
            fullname, _LOADER, is_package=bool(_children(fullname))
        )


_LOADER = _KerasLoader()
_FINDER = _KerasFinder()


def _is_keras(name):
    return name == "keras" or name.startswith("keras.")


def _is_ours(module):
    return isinstance(getattr(getattr(module, "__spec__", None), "loader", None), _KerasLoader)


def installed():
    """Whether ``import keras`` currently resolves to the compatibility modules."""
    return _FINDER in sys.meta_path


def install():
    """Make ``import keras...`` in this process resolve to the compatibility modules.

    Returns:
        True if this call installed it, False if it already was.

    Raises:
        RuntimeError: if a Keras that is not this one is already imported (the script
            would mix two frameworks).
    """
    if installed():
        return False
    foreign = sorted(
        n for n, m in sys.modules.items() if _is_keras(n) and m is not None and not _is_ours(m)
    )
    if foreign:
        where = getattr(sys.modules[foreign[0]], "__file__", None) or "an unknown location"
        raise RuntimeError(
            "Cannot install juanji's Keras 1 compatibility: a real Keras is already imported "
            f"({foreign[0]!r} from {where}). Install it before anything imports keras, or run "
            "the script with `python -m juanji.compat.keras1 SCRIPT`. "
            f"Received: sys.modules holding {', '.join(foreign[:3])}"
        )
    sys.meta_path.insert(0, _FINDER)
    return True


def uninstall():
    """Undo :func:`install`: ``keras`` is no longer resolved here, and the compatibility
    ``keras`` modules leave ``sys.modules`` (objects made from them keep working)."""
    if installed():
        sys.meta_path.remove(_FINDER)
    for name in [n for n, m in sys.modules.items() if _is_keras(n) and _is_ours(m)]:
        del sys.modules[name]


def run_script(path, argv=()):
    """Run the Keras 1 script at ``path`` as ``__main__``, its ``import keras`` resolved here.

    As ``python SCRIPT args...`` would: ``sys.argv`` is ``[path, *argv]`` and the script's
    folder comes first on ``sys.path`` (both restored afterwards).

    Args:
        path: the script file.
        argv: the arguments after the script's name.

    Raises:
        FileNotFoundError: if ``path`` is not a file.
        RuntimeError: if a real Keras is already imported (see :func:`install`).
        SystemExit: when the script exits with ``sys.exit``; and anything the script raises.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Expected a Keras 1 script file. Received: path={path!r}")
    installed_here = install()
    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [path, *argv]
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    try:
        runpy.run_path(path, run_name="__main__")
    finally:
        sys.argv = saved_argv
        sys.path[:] = saved_path
        if installed_here:
            uninstall()
