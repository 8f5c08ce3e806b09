"""``keras.models``: Keras 1's ``Sequential``, juanji's with Keras 1's names and old methods.

What changes against ``juanji.models.Sequential``: ``compile`` takes Keras 1's optimizer
names with Keras 1's defaults (``'adadelta'`` has ``lr=1.0``); ``fit`` counts ``nb_epoch``;
float64 data is cast to the default float type, as Keras 1 did; and the Keras 0/1 methods
``train``/``test`` (with ``accuracy=True``), ``predict_classes``, ``predict_proba`` and
``fit_generator`` exist. Results of ``accuracy`` metrics are logged as ``acc``, as in Keras 1.
"""

import contextlib
import math
import os

import numpy as np

from juanji import backend, metrics, models
from juanji.autograd import no_grad
from juanji.compat.keras1 import hints, optimizers

_NO_SAMPLE_WEIGHTS = {"class_weight": (None,), "sample_weight": (None,)}


def _check_overwrite(filepath, overwrite):
    # NOTE: Keras 1 asked on the terminal whether to overwrite; a script here is told instead.
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(
            f"Expected a new file (overwrite=False). Received: filepath={os.fspath(filepath)!r}"
        )


class Sequential(models.Sequential):
    """Keras 1's ``Sequential``: a stack of layers; the first declares the input shape
    (``input_shape=(1, 28, 28)`` or ``input_dim=784``).

    Example:
        >>> from juanji.compat.keras1.layers import Dense
        >>> model = Sequential()
        >>> model.add(Dense(3, input_dim=4, activation="softmax"))
        >>> model.compile(loss="categorical_crossentropy", optimizer="sgd")
        >>> x, y = np.ones((8, 4)), np.eye(3)[[0, 1, 2, 0, 1, 2, 0, 1]]
        >>> loss, accuracy = model.train(x, y, accuracy=True)
        >>> model.predict_classes(x, verbose=0).shape
        (8,)
    """

    def __init__(self, layers=None, name=None):
        # NOTE: Keras 1 drew weights and shuffles from NumPy's global generator, so scripts
        # call np.random.seed(n) for repeatable runs; seeding juanji's generator from it here
        # keeps that promise (and leaves runs random when the script does not seed NumPy).
        backend.set_seed(int(np.random.randint(2**31)))
        super().__init__(layers, name=name)

    def compile(self, optimizer, loss, metrics=None, **legacy):
        """Keras 1's ``compile(optimizer, loss, metrics=[])``; ``class_mode`` (Keras 0)
        and the Theano-only arguments are noted and ignored."""
        hints.only_no_effect(
            "compile",
            legacy,
            {
                "class_mode": ("categorical", "binary"),
                "loss_weights": (None,),
                "sample_weight_mode": (None,),
                "theano_mode": (None,),
            },
        )
        metrics = ["acc" if m == "accuracy" else m for m in metrics or []]
        super().compile(optimizer=optimizers.get(optimizer), loss=loss, metrics=metrics)
        self._metric_names = metrics

    @contextlib.contextmanager
    def _showing_accuracy(self, owner, show_accuracy):
        """Within the block, an ``acc`` metric is compiled in if ``show_accuracy`` (Keras 0)."""
        if not show_accuracy:
            yield
            return
        hints.hint(
            f"{owner}(show_accuracy)",
            f"{owner}(..., show_accuracy=True)",
            "compile(..., metrics=['accuracy'])",
        )
        self._require_compiled(owner)
        compiled = self._metric_names
        self.compile(self.optimizer, self.loss, compiled + ["acc"] * ("acc" not in compiled))
        try:
            yield
        finally:
            self.compile(self.optimizer, self.loss, compiled)

    def fit(
        self,
        x=None,
        y=None,
        batch_size=32,
        nb_epoch=None,
        verbose=1,
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        initial_epoch=0,
        epochs=None,
        show_accuracy=False,
        **legacy,
    ):
        """Keras 1's ``fit``: ``nb_epoch`` (default 10) is juanji's ``epochs``.

        Raises:
            ValueError: for ``class_weight`` or ``sample_weight`` (not supported), or
                ``nb_epoch`` and ``epochs`` that disagree.
        """
        hints.only_no_effect("fit", legacy, _NO_SAMPLE_WEIGHTS)
        if nb_epoch is not None:
            if epochs is not None and epochs != nb_epoch:
                raise ValueError(
                    f"Expected one of `nb_epoch` and `epochs`. "
                    f"Received: nb_epoch={nb_epoch}, epochs={epochs}"
                )
            hints.hint("nb_epoch", f"fit(..., nb_epoch={nb_epoch})", f"fit(..., epochs={nb_epoch})")
        if epochs is None:
            epochs = 10 if nb_epoch is None else nb_epoch
        if shuffle == "batch":
            hints.show_once(
                ("note", "fit", "shuffle"),
                "keras1 note: fit(shuffle='batch') shuffles whole samples here",
            )
        if validation_data is not None:
            validation_data = self._validation_arrays(validation_data)
        if verbose:
            if validation_data is not None:
                n_train, n_val = len(x), len(validation_data[0])
            else:
                n_val = int(len(x) * validation_split)
                n_train = len(x) - n_val
            print(
                f"Train on {n_train} samples" + (f", validate on {n_val} samples" if n_val else "")
            )
        with self._showing_accuracy("fit", show_accuracy):
            return super().fit(
                x,
                y,
                batch_size=batch_size,
                epochs=epochs,
                verbose=verbose,
                callbacks=callbacks,
                validation_split=validation_split,
                validation_data=validation_data,
                shuffle=bool(shuffle),
                initial_epoch=initial_epoch,
            )

    @staticmethod
    def _validation_arrays(validation_data):
        if len(validation_data) == 3 and validation_data[2] is not None:
            raise ValueError(
                "Sample weights in validation_data are not supported. "
                "Received: validation_data=(x, y, sample_weight)"
            )
        return validation_data[0], validation_data[1]

    def fit_generator(
        self,
        generator,
        samples_per_epoch,
        nb_epoch,
        verbose=1,
        callbacks=None,
        validation_data=None,
        initial_epoch=0,
        **legacy,
    ):
        """Keras 1's ``fit_generator``: ``nb_epoch`` epochs of ``samples_per_epoch`` samples
        drawn with ``next(generator)``, which yields ``(x, y)`` batches without end.

        Raises:
            ValueError: for ``class_weight``, or ``validation_data`` that is a generator.
        """
        hints.only_no_effect(
            "fit_generator",
            legacy,
            {
                **_NO_SAMPLE_WEIGHTS,
                "nb_val_samples": hints.ANY,
                "max_q_size": hints.ANY,
                "nb_worker": hints.ANY,
                "pickle_safe": hints.ANY,
            },
        )
        if validation_data is not None and not isinstance(validation_data, (tuple, list)):
            raise ValueError(
                "Expected validation_data as (x, y) arrays. "
                f"Received: validation_data={type(validation_data).__name__}"
            )
        first = next(generator)
        steps = math.ceil(samples_per_epoch / len(first[0]))
        hints.hint(
            "fit_generator",
            f"fit_generator(generator, samples_per_epoch={samples_per_epoch}, nb_epoch={nb_epoch})",
            f"fit(generator, steps_per_epoch={steps}, epochs={nb_epoch})",
        )

        def batches():
            batch = first
            while True:
                yield batch[0], batch[1]
                batch = next(generator)

        if validation_data is not None:
            validation_data = self._validation_arrays(validation_data)
        return super().fit(
            batches(),
            epochs=nb_epoch,
            verbose=verbose,
            callbacks=callbacks,
            validation_data=validation_data,
            steps_per_epoch=steps,
            initial_epoch=initial_epoch,
        )

    def evaluate(
        self, x, y, batch_size=32, verbose=0, return_dict=False, show_accuracy=False, **legacy
    ):
        """The loss (and metrics) over ``(x, y)``; ``show_accuracy=True`` (Keras 0) adds
        the accuracy. Unlike Keras 1, quiet unless ``verbose=1``."""
        hints.only_no_effect("evaluate", legacy, {"sample_weight": (None,)})
        with self._showing_accuracy("evaluate", show_accuracy):
            return super().evaluate(
                x,
                y,
                batch_size=batch_size,
                verbose=verbose,
                return_dict=return_dict,
            )

    def predict(self, x, batch_size=32, verbose=0):
        """The outputs for ``x``, computed ``batch_size`` samples at a time."""
        return super().predict(x, batch_size=batch_size)

    def predict_proba(self, x, batch_size=32, verbose=1):
        """The outputs for ``x`` (Keras 1's name for ``predict`` on probability outputs)."""
        hints.hint("predict_proba", "model.predict_proba(x)", "model.predict(x)")
        return self.predict(x, batch_size=batch_size)

    def predict_classes(self, x, batch_size=32, verbose=1):
        """The class of each sample: the argmax of the outputs, or ``output > 0.5`` for a
        single output unit.

        Returns:
            An int array ``(N,)``.
        """
        hints.hint(
            "predict_classes", "model.predict_classes(x)", "np.argmax(model.predict(x), axis=-1)"
        )
        proba = self.predict(x, batch_size=batch_size)
        if proba.shape[-1] > 1:
            return proba.argmax(axis=-1)
        return (proba > 0.5).astype("int32").ravel()

    def train_on_batch(self, x, y, accuracy=False, return_dict=False, **legacy):
        """One optimizer step on ``(x, y)``.

        Returns:
            The loss (and compiled metrics) before the step; with ``accuracy=True`` (Keras 0)
            ``(loss, accuracy)`` on the batch.
        """
        hints.only_no_effect("train_on_batch", legacy, _NO_SAMPLE_WEIGHTS)
        if not accuracy:
            return super().train_on_batch(x, y, return_dict=return_dict)
        self._require_compiled("train_on_batch")
        x, y = self._check_arrays(x, y)
        loss, y_pred = self.train_step(x, y)
        return loss, self._accuracy(y, y_pred)

    def test_on_batch(self, x, y, accuracy=False, return_dict=False, **legacy):
        """The loss (and metrics) on ``(x, y)`` without a step; ``(loss, accuracy)`` with
        ``accuracy=True`` (Keras 0)."""
        hints.only_no_effect("test_on_batch", legacy, {"sample_weight": (None,)})
        if not accuracy:
            return super().test_on_batch(x, y, return_dict=return_dict)
        self._require_compiled("test_on_batch")
        x, y = self._check_arrays(x, y)
        with no_grad():
            y_pred = self(x, training=False)
            loss = float(self.loss(y, y_pred).data)
        return loss, self._accuracy(y, y_pred.data)

    def train(self, x, y, accuracy=False, **legacy):
        """Keras 0's ``train``: ``train_on_batch``, returning ``(loss, accuracy)`` with
        ``accuracy=True``."""
        hints.hint(
            "train",
            f"model.train(x, y, accuracy={accuracy})",
            "model.train_on_batch(x, y) with compile(..., metrics=['accuracy'])",
        )
        return self.train_on_batch(x, y, accuracy=accuracy, **legacy)

    def test(self, x, y, accuracy=False, **legacy):
        """Keras 0's ``test``: ``test_on_batch``, returning ``(loss, accuracy)`` with
        ``accuracy=True``."""
        hints.hint(
            "test",
            f"model.test(x, y, accuracy={accuracy})",
            "model.test_on_batch(x, y) with compile(..., metrics=['accuracy'])",
        )
        return self.test_on_batch(x, y, accuracy=accuracy, **legacy)

    def save(self, filepath, overwrite=True):
        """Write the model as a juanji model file (Keras 1 wrote HDF5)."""
        _check_overwrite(filepath, overwrite)
        super().save(filepath)

    def save_weights(self, filepath, overwrite=True):
        """Write the weights as a juanji ``.npz`` file (Keras 1 wrote HDF5)."""
        _check_overwrite(filepath, overwrite)
        super().save_weights(filepath)

    def _accuracy(self, y, y_pred):
        metric = metrics.resolve_metric("acc", self.loss)
        metric.update_state(y, y_pred)
        return metric.result()


__all__ = ["Sequential"]
