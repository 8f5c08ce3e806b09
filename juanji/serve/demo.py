"""The model of ``juanji serve --demo``: the seed CNN trained on the bundled digits.

It is trained on first use (about half a minute of CPU time; the digits ship with
scikit-learn, so nothing is downloaded) and saved in the user's cache folder,
``$XDG_CACHE_HOME/juanji`` (default ``~/.cache/juanji``); later runs load it from there. A
cached file that cannot be read is trained again and replaced.
"""

import os
import sys
from pathlib import Path

import numpy as np

from juanji import backend, saving, zoo
from juanji.data.utils import to_categorical
from juanji.datasets import digits
from juanji.preprocessing.image import ImageDataGenerator

# The name carries a version: a change of the recipe below gets a new file, not a stale one.
DEMO_FILE = "demo-digits-v1.juanji"
DEMO_EPOCHS = 12
CLASS_NAMES = [str(k) for k in range(10)]
# The digits are 8x8 scans enlarged, with thick, blurred strokes; pen strokes on the page are
# thinner and sharp-edged. Training also on copies with the faint ink cut off at these levels
# (and the rest stretched back to [0, 1]) makes the model recognise drawn digits far more
# often: of 24 strokes drawn with Pillow (eight digits, three pen widths) and framed as the
# page does, 22 against 13, with 98.3% held-out accuracy against 97.5%.
THINNING_LEVELS = (0.35, 0.6)


def cache_dir():
    """The folder juanji caches files in: ``$XDG_CACHE_HOME/juanji`` or ``~/.cache/juanji``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "juanji"


def _thinned(x, level):
    """Images in [0, 1] with the ink under ``level`` dropped and the rest stretched to [0, 1]."""
    return np.clip((x - level) / (1 - level), 0, 1)


def train_demo_model(*, epochs=DEMO_EPOCHS, augment=True, seed=0, verbose=0):
    """The seed CNN fitted to the digits at 28x28 (values in [0, 1], light ink on dark).

    Args:
        epochs: passes over the training images (1437; three times as many with ``augment``).
        augment: train also on thinned copies of the images (see ``THINNING_LEVELS``), with
            random rotations (up to 10 degrees), shifts and zooms (10%), so that digits drawn
            by hand, thinner and placed less regularly than the dataset's, are recognised.
        seed: the seed of the initialisation, the order and the augmentation.
        verbose: the ``fit`` progress output (0 silent).

    Returns:
        ``(model, test_accuracy)``, the accuracy on the 360 held-out digits.
    """
    backend.set_seed(seed)
    (x_train, y_train), (x_test, y_test) = digits.load_data(image_size=(28, 28))
    x_train = x_train.astype(np.float32) / 255
    x_test = x_test.astype(np.float32) / 255
    model = zoo.seed_cnn(input_shape=(28, 28, 1), num_classes=10)
    y = to_categorical(y_train, 10)
    if augment:
        x_train = np.concatenate([x_train] + [_thinned(x_train, t) for t in THINNING_LEVELS])
        y = np.concatenate([y] * (1 + len(THINNING_LEVELS)))
        generator = ImageDataGenerator(
            rotation_range=10,
            width_shift_range=0.1,
            height_shift_range=0.1,
            zoom_range=0.1,
            fill_mode="constant",
        )
        flow = generator.flow(x_train, y, batch_size=32, seed=seed)
        model.fit(flow, epochs=epochs, steps_per_epoch=len(flow), verbose=verbose)
    else:
        model.fit(x_train, y, epochs=epochs, batch_size=32, verbose=verbose)
    accuracy = float(np.mean(model.predict(x_test).argmax(axis=1) == y_test))
    return model, accuracy


def demo_model_path(folder=None, *, epochs=DEMO_EPOCHS, augment=True, log=None):
    """The demo model's file: the cached one if it can be read, else a newly trained one.

    Args:
        folder: where to keep it; default :func:`cache_dir`.
        epochs, augment: the training recipe, when it has to be trained.
        log: a function taking one line of progress (default: print to stderr).

    Returns:
        The path of the model file, which holds the class names as ``juanji train`` writes.
    """
    log = log or (lambda line: print(line, file=sys.stderr))
    path = Path(folder or cache_dir()) / DEMO_FILE
    if path.is_file():
        try:
            saving.load_model(path, compile=False)
            return path
        except ValueError as error:
            log(f"juanji: the cached demo model {path} cannot be read ({error}); training again")
    log(f"juanji: training the demo model on the bundled digits ({epochs} epochs), once")
    model, accuracy = train_demo_model(epochs=epochs, augment=augment)
    saving.save_model(model, path, extra={"class_names": CLASS_NAMES})
    log(f"juanji: demo model saved to {path} (test accuracy {accuracy:.3f})")
    return path


__all__ = ["cache_dir", "demo_model_path", "train_demo_model"]
