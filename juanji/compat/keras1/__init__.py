"""Run Keras 1 (Theano-era, channels-first) programs unchanged on juanji.

From a shell: ``python -m juanji.compat.keras1 SCRIPT.py [args...]``. In a process:
``install()`` makes ``import keras`` resolve to these modules (importing this package alone
changes nothing), ``uninstall()`` undoes it, and ``run_script(path, argv)`` runs one script.

Keras 1's names (``Convolution2D(4, 5, 5, border_mode='valid')``, ``nb_epoch``,
``SGD(lr=...)``, ``model.train(x, y, accuracy=True)``...) build juanji's layers, models and
optimizers; the first use of each prints its modern equivalent on stderr
(``JUANJI_NO_HINTS=1`` silences that). Images are ``(N, C, H, W)`` by default, as Theano's
``'th'`` ordering; ``KERAS_IMAGE_DIM_ORDERING=tf`` or ``set_image_dim_ordering('tf')``
switches to channels last.
"""

from juanji.compat.keras1.backend import image_dim_ordering, set_image_dim_ordering
from juanji.compat.keras1.importer import (
    KERAS_VERSION,
    MODULES,
    install,
    installed,
    run_script,
    uninstall,
)

__all__ = [
    "KERAS_VERSION",
    "MODULES",
    "image_dim_ordering",
    "install",
    "installed",
    "run_script",
    "set_image_dim_ordering",
    "uninstall",
]
