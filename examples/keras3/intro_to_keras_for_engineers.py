"""Keras 3's "Introduction to Keras for engineers", on juanji.

A convnet trained with checkpoints and early stopping, saved, reloaded and queried; then a
subclassed model made of custom layers (a dense layer on ``ops.matmul`` and a dropout on
``random.dropout`` with its own seed generator), trained on arrays and on a PyTorch
``DataLoader`` (when PyTorch is installed).

Run: ``python examples/keras3/intro_to_keras_for_engineers.py``. Environment variables:
``KERAS3_SAMPLES`` (the first N training and test images), ``KERAS3_EPOCHS`` (at most that
many epochs), ``KERAS3_WITH_KERAS=1`` (the same program on Keras 3 itself, to compare).
"""

import os
import tempfile

import numpy as np

if os.environ.get("KERAS3_WITH_KERAS"):
    import keras

    MODEL_FILE = "keras"  # each framework writes its own model file format
else:
    import juanji as keras

    MODEL_FILE = "juanji"

SAMPLES = int(os.environ.get("KERAS3_SAMPLES", 0)) or None
EPOCHS = int(os.environ.get("KERAS3_EPOCHS", 0)) or None
work_dir = tempfile.mkdtemp()

# --- the data: MNIST scaled to [0, 1], with a channel axis ---------------------------------
(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train, y_train = x_train[:SAMPLES], y_train[:SAMPLES]
x_test, y_test = x_test[:SAMPLES], y_test[:SAMPLES]
x_train = np.expand_dims(x_train.astype("float32") / 255, -1)
x_test = np.expand_dims(x_test.astype("float32") / 255, -1)
print("x_train shape:", x_train.shape, "y_train shape:", y_train.shape)

# --- a Sequential convnet --------------------------------------------------------------------
num_classes = 10
input_shape = (28, 28, 1)
model = keras.Sequential(
    [
        keras.layers.Input(shape=input_shape),
        keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Conv2D(128, kernel_size=(3, 3), activation="relu"),
        keras.layers.Conv2D(128, kernel_size=(3, 3), activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(num_classes, activation="softmax"),
    ]
)
model.summary()
model.compile(
    loss=keras.losses.SparseCategoricalCrossentropy(),
    optimizer=keras.optimizers.Adam(learning_rate=1e-3),
    metrics=[keras.metrics.SparseCategoricalAccuracy(name="acc")],
)

batch_size = 128
epochs = EPOCHS or 20
callbacks = [
    keras.callbacks.ModelCheckpoint(
        filepath=os.path.join(work_dir, "model_at_epoch_{epoch}." + MODEL_FILE)
    ),
    keras.callbacks.EarlyStopping(monitor="val_loss", patience=2),
]
model.fit(
    x_train,
    y_train,
    batch_size=batch_size,
    epochs=epochs,
    validation_split=0.15,
    callbacks=callbacks,
)
score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])

final = os.path.join(work_dir, "final_model." + MODEL_FILE)
model.save(final)
model = keras.saving.load_model(final)
predictions = model.predict(x_test)
print("Reloaded model's test accuracy:", np.mean(predictions.argmax(axis=1) == y_test))


# --- custom components: a dense layer, a dropout, a subclassed model ---------------------------
class MyDense(keras.layers.Layer):
    def __init__(self, units, activation=None, name=None):
        super().__init__(name=name)
        self.units = units
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.w = self.add_weight(
            shape=(input_dim, self.units),
            initializer=keras.initializers.GlorotNormal(),
            name="kernel",
            trainable=True,
        )
        self.b = self.add_weight(
            shape=(self.units,),
            initializer=keras.initializers.Zeros(),
            name="bias",
            trainable=True,
        )

    def call(self, inputs):
        x = keras.ops.matmul(inputs, self.w) + self.b
        return self.activation(x)


class MyDropout(keras.layers.Layer):
    def __init__(self, rate, name=None):
        super().__init__(name=name)
        self.rate = rate
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        return keras.random.dropout(inputs, self.rate, seed=self.seed_generator)


class MyModel(keras.Model):
    def __init__(self, num_classes):
        super().__init__()
        self.conv_base = keras.Sequential(
            [
                keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
                keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
                keras.layers.MaxPooling2D(pool_size=(2, 2)),
                keras.layers.Conv2D(128, kernel_size=(3, 3), activation="relu"),
                keras.layers.Conv2D(128, kernel_size=(3, 3), activation="relu"),
                keras.layers.GlobalAveragePooling2D(),
            ]
        )
        self.dp = MyDropout(0.5)
        self.dense = MyDense(num_classes, activation="softmax")

    def call(self, x):
        x = self.conv_base(x)
        x = self.dp(x)
        return self.dense(x)


def compiled_model():
    model = MyModel(num_classes=10)
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(),
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="acc")],
    )
    return model


model = compiled_model()
model.fit(x_train, y_train, batch_size=batch_size, epochs=1, validation_split=0.15)
print("Subclassed model's test accuracy:", model.evaluate(x_test, y_test, verbose=0)[1])

# --- training on a PyTorch DataLoader ------------------------------------------------------------
try:
    import torch
except ImportError:
    torch = None
    print("PyTorch is not installed: skipping the DataLoader part.")
if torch is not None:
    train_dataloader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(x_train), torch.from_numpy(y_train)),
        batch_size=batch_size,
        shuffle=True,
    )
    val_dataloader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(x_test), torch.from_numpy(y_test)),
        batch_size=batch_size,
        shuffle=False,
    )
    model = compiled_model()
    model.fit(train_dataloader, epochs=1, validation_data=val_dataloader)
    print("DataLoader-trained test accuracy:", model.evaluate(val_dataloader, verbose=0)[1])
