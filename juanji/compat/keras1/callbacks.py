"""``keras.callbacks``: juanji's callbacks, and a ``Callback`` base with Keras 1's batch hooks."""

from juanji import callbacks
from juanji.callbacks import CSVLogger, EarlyStopping, History, ModelCheckpoint


class Callback(callbacks.Callback):
    """Base class of Keras 1 callbacks: override ``on_batch_begin``/``on_batch_end`` (called
    for each training batch) and the epoch and train hooks, as in Keras 1.

    Example:
        >>> class Count(Callback):
        ...     def on_batch_end(self, batch, logs=None):
        ...         self.seen = batch + 1
        >>> count = Count()
        >>> count.on_train_batch_end(4, {"loss": 1.0})
        >>> count.seen
        5
    """

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)

    def on_batch_begin(self, batch, logs=None):
        """Called before each training batch."""

    def on_batch_end(self, batch, logs=None):
        """Called after each training batch with the running ``logs``."""


__all__ = ["CSVLogger", "Callback", "EarlyStopping", "History", "ModelCheckpoint"]
