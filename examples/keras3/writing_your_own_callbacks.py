"""Keras 3's guide "Writing your own callbacks", on juanji.

A one-unit regression on flat MNIST images watched by callbacks: one printing every hook
and the keys of its logs (in fit, evaluate and predict), one printing the losses, one
stopping at the minimum loss and restoring the best weights, and a learning-rate schedule.

Run: ``python examples/keras3/writing_your_own_callbacks.py``. Environment variables:
``KERAS3_SAMPLES`` (the first N images, at most 1000 as in the guide), ``KERAS3_EPOCHS``
(cap the epochs), ``KERAS3_WITH_KERAS=1`` (the same program on Keras 3, to compare),
``KERAS3_SEED`` (the seed given to ``utils.set_random_seed``, default 1).
"""

import os

import numpy as np

if os.environ.get("KERAS3_WITH_KERAS"):
    import keras
else:
    import juanji as keras

SAMPLES = int(os.environ.get("KERAS3_SAMPLES", 0)) or 1000
EPOCHS = int(os.environ.get("KERAS3_EPOCHS", 0)) or None
keras.utils.set_random_seed(int(os.environ.get("KERAS3_SEED", 1)))


def get_model():
    model = keras.Sequential()
    model.add(keras.layers.Dense(1, input_dim=784))
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=0.1),
        loss="mean_squared_error",
        metrics=["mean_absolute_error"],
    )
    return model


(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = x_train.reshape(-1, 784).astype("float32") / 255.0
x_test = x_test.reshape(-1, 784).astype("float32") / 255.0
x_train, y_train = x_train[:SAMPLES], y_train[:SAMPLES].astype("float32")
x_test, y_test = x_test[:SAMPLES], y_test[:SAMPLES].astype("float32")


class CustomCallback(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        print(f"Starting training; got log keys: {list(logs.keys())}")

    def on_train_end(self, logs=None):
        print(f"Stop training; got log keys: {list(logs.keys())}")

    def on_epoch_begin(self, epoch, logs=None):
        print(f"Start epoch {epoch} of training; got log keys: {list(logs.keys())}")

    def on_epoch_end(self, epoch, logs=None):
        print(f"End epoch {epoch} of training; got log keys: {list(logs.keys())}")

    def on_test_begin(self, logs=None):
        print(f"Start testing; got log keys: {list(logs.keys())}")

    def on_test_end(self, logs=None):
        print(f"Stop testing; got log keys: {list(logs.keys())}")

    def on_predict_begin(self, logs=None):
        print(f"Start predicting; got log keys: {list(logs.keys())}")

    def on_predict_end(self, logs=None):
        print(f"Stop predicting; got log keys: {list(logs.keys())}")

    def on_train_batch_begin(self, batch, logs=None):
        print(f"...Training: start of batch {batch}; got log keys: {list(logs)}")

    def on_train_batch_end(self, batch, logs=None):
        print(f"...Training: end of batch {batch}; got log keys: {list(logs)}")

    def on_test_batch_begin(self, batch, logs=None):
        print(f"...Evaluating: start of batch {batch}; got log keys: {list(logs)}")

    def on_test_batch_end(self, batch, logs=None):
        print(f"...Evaluating: end of batch {batch}; got log keys: {list(logs)}")

    def on_predict_batch_begin(self, batch, logs=None):
        print(f"...Predicting: start of batch {batch}; got log keys: {list(logs)}")

    def on_predict_batch_end(self, batch, logs=None):
        print(f"...Predicting: end of batch {batch}; got log keys: {list(logs)}")


model = get_model()
model.fit(
    x_train,
    y_train,
    batch_size=128,
    epochs=1,
    verbose=0,
    validation_split=0.5,
    callbacks=[CustomCallback()],
)
res = model.evaluate(x_test, y_test, batch_size=128, verbose=0, callbacks=[CustomCallback()])
res = model.predict(x_test, batch_size=128, callbacks=[CustomCallback()])


class LossAndErrorPrintingCallback(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        print("Up to batch {}, the average loss is {:7.2f}.".format(batch, logs["loss"]))

    def on_test_batch_end(self, batch, logs=None):
        print("Up to batch {}, the average loss is {:7.2f}.".format(batch, logs["loss"]))

    def on_epoch_end(self, epoch, logs=None):
        print(
            "The average loss for epoch {} is {:7.2f} and mean absolute error is {:7.2f}.".format(
                epoch, logs["loss"], logs["mean_absolute_error"]
            )
        )


model = get_model()
model.fit(
    x_train,
    y_train,
    batch_size=128,
    epochs=2,
    verbose=0,
    callbacks=[LossAndErrorPrintingCallback()],
)
res = model.evaluate(
    x_test, y_test, batch_size=128, verbose=0, callbacks=[LossAndErrorPrintingCallback()]
)


class EarlyStoppingAtMinLoss(keras.callbacks.Callback):
    """Stop training when the loss is at its minimum, and restore the best weights.

    Args:
        patience: epochs to wait after the minimum before stopping.
    """

    def __init__(self, patience=0):
        super().__init__()
        self.patience = patience
        self.best_weights = None

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = np.inf

    def on_epoch_end(self, epoch, logs=None):
        current = logs.get("loss")
        if np.less(current, self.best):
            self.best = current
            self.wait = 0
            self.best_weights = self.model.get_weights()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = epoch
                self.model.stop_training = True
                print("Restoring model weights from the end of the best epoch.")
                self.model.set_weights(self.best_weights)

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")


model = get_model()
model.fit(
    x_train,
    y_train,
    batch_size=64,
    steps_per_epoch=5,
    epochs=min(30, EPOCHS or 30),
    verbose=0,
    callbacks=[LossAndErrorPrintingCallback(), EarlyStoppingAtMinLoss()],
)


class CustomLearningRateScheduler(keras.callbacks.Callback):
    """Sets the learning rate from ``schedule(epoch, lr)`` at the start of every epoch."""

    def __init__(self, schedule):
        super().__init__()
        self.schedule = schedule

    def on_epoch_begin(self, epoch, logs=None):
        if not hasattr(self.model.optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        lr = float(np.array(self.model.optimizer.learning_rate))
        scheduled_lr = self.schedule(epoch, lr)
        self.model.optimizer.learning_rate = scheduled_lr
        print(f"\nEpoch {epoch}: learning rate is {scheduled_lr:6.4f}.")


LR_SCHEDULE = [(3, 0.05), (6, 0.01), (9, 0.005), (12, 0.001)]  # (epoch to start, rate)


def lr_schedule(epoch, lr):
    if epoch < LR_SCHEDULE[0][0] or epoch > LR_SCHEDULE[-1][0]:
        return lr
    for start, rate in LR_SCHEDULE:
        if epoch == start:
            return rate
    return lr


model = get_model()
model.fit(
    x_train,
    y_train,
    batch_size=64,
    steps_per_epoch=5,
    epochs=min(15, EPOCHS or 15),
    verbose=0,
    callbacks=[LossAndErrorPrintingCallback(), CustomLearningRateScheduler(lr_schedule)],
)
loss, mae = model.evaluate(x_test, y_test, batch_size=128, verbose=0)
print("Test loss:", loss)
print("Test mean absolute error:", mae)
