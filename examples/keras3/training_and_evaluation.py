"""Keras 3's guide "Training & evaluation with the built-in methods", on juanji.

A functional MLP trained on MNIST with a held-out validation set, evaluated and queried;
then the same fit with a custom loss function, a custom ``Loss`` class, a layer that adds
its own loss, class weights, sample weights, a model of two inputs and two outputs trained
with a loss and a weight per output, and early stopping.

Run: ``python examples/keras3/training_and_evaluation.py``. Environment variables:
``KERAS3_SAMPLES`` (the first N training and test images), ``KERAS3_EPOCHS`` (train that
many epochs), ``KERAS3_WITH_KERAS=1`` (the same program on Keras 3 itself, to compare),
``KERAS3_SEED`` (the seed given to ``utils.set_random_seed``, default 1).
"""

import os

import numpy as np

if os.environ.get("KERAS3_WITH_KERAS"):
    import keras
    from keras import layers, ops
else:
    import juanji as keras
    from juanji import layers, ops

SAMPLES = int(os.environ.get("KERAS3_SAMPLES", 0)) or None
EPOCHS = int(os.environ.get("KERAS3_EPOCHS", 0)) or None
keras.utils.set_random_seed(int(os.environ.get("KERAS3_SEED", 1)))

# --- data: flat MNIST images, 1 in 6 training images kept aside for validation ------------
(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train, y_train = x_train[:SAMPLES], y_train[:SAMPLES]
x_test, y_test = x_test[:SAMPLES], y_test[:SAMPLES]
x_train = x_train.reshape(len(x_train), 784).astype("float32") / 255
x_test = x_test.reshape(len(x_test), 784).astype("float32") / 255
y_train, y_test = y_train.astype("float32"), y_test.astype("float32")
held_out = len(x_train) // 6  # 10,000 of MNIST's 60,000
x_val, y_val = x_train[-held_out:], y_train[-held_out:]
x_train, y_train = x_train[:-held_out], y_train[:-held_out]


def get_uncompiled_model():
    inputs = keras.Input(shape=(784,), name="digits")
    x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = layers.Dense(64, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


def get_compiled_model():
    model = get_uncompiled_model()
    model.compile(
        optimizer="rmsprop",
        loss="sparse_categorical_crossentropy",
        metrics=["sparse_categorical_accuracy"],
    )
    return model


# --- the whole workflow: compile, fit with validation, evaluate, predict --------------------
model = get_uncompiled_model()
model.compile(
    optimizer=keras.optimizers.RMSprop(),
    loss=keras.losses.SparseCategoricalCrossentropy(),
    metrics=[keras.metrics.SparseCategoricalAccuracy()],
)
history = model.fit(
    x_train, y_train, batch_size=64, epochs=EPOCHS or 2, validation_data=(x_val, y_val)
)
print("History:", {k: [round(v, 4) for v in vs] for k, vs in history.history.items()})
results = model.evaluate(x_test, y_test, batch_size=128)
print("Test loss, test accuracy:", results)
print("Test accuracy:", results[1])
print("Predictions for 3 samples:", model.predict(x_test[:3]).shape)


# --- a custom loss function and a custom Loss class -------------------------------------------
def custom_mean_squared_error(y_true, y_pred):
    return ops.mean(ops.square(y_true - y_pred), axis=-1)


y_train_one_hot = keras.utils.to_categorical(y_train, 10)
model = get_uncompiled_model()
model.compile(optimizer=keras.optimizers.Adam(), loss=custom_mean_squared_error)
model.fit(x_train, y_train_one_hot, batch_size=64, epochs=1)


class CustomMSE(keras.losses.Loss):
    def __init__(self, regularization_factor=0.1, name="custom_mse"):
        super().__init__(name=name)
        self.regularization_factor = regularization_factor

    def call(self, y_true, y_pred):
        mse = ops.mean(ops.square(y_true - y_pred), axis=-1)
        reg = ops.mean(ops.square(0.5 - y_pred), axis=-1)
        return mse + reg * self.regularization_factor


model = get_uncompiled_model()
model.compile(optimizer=keras.optimizers.Adam(), loss=CustomMSE())
model.fit(x_train, y_train_one_hot, batch_size=64, epochs=1)


# --- a layer adding its own loss ------------------------------------------------------------
class ActivityRegularizationLayer(layers.Layer):
    def call(self, inputs):
        self.add_loss(1e-2 * ops.sum(inputs))
        return inputs


inputs = keras.Input(shape=(784,), name="digits")
x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
x = ActivityRegularizationLayer()(x)
x = layers.Dense(64, activation="relu", name="dense_2")(x)
outputs = layers.Dense(10, name="predictions")(x)
model = keras.Model(inputs=inputs, outputs=outputs)
model.compile(
    optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
)
model.fit(x_train, y_train, batch_size=64, epochs=1)

# --- class weights and sample weights ---------------------------------------------------------
class_weight = {c: 1.0 for c in range(10)}
class_weight[5] = 2.0  # twice the weight for the class "5"
model = get_compiled_model()
model.fit(x_train, y_train, class_weight=class_weight, batch_size=64, epochs=1)

sample_weight = np.ones(shape=(len(y_train),))
sample_weight[y_train == 5] = 2.0
model = get_compiled_model()
model.fit(x_train, y_train, sample_weight=sample_weight, batch_size=64, epochs=1)
print("Sample-weighted model's test accuracy:", model.evaluate(x_test, y_test, verbose=0)[1])

# --- two inputs, two outputs: a loss and a weight per output ------------------------------------
image_input = keras.Input(shape=(28, 28, 1), name="img_input")
features_input = keras.Input(shape=(10,), name="features_input")
x1 = layers.Conv2D(3, 3)(image_input)
x1 = layers.GlobalMaxPooling2D()(x1)
x2 = layers.Dense(8, activation="relu")(features_input)
x = layers.Concatenate()([x1, x2])
score_output = layers.Dense(1, name="score_output")(x)
class_output = layers.Dense(5, activation="softmax", name="class_output")(x)
model = keras.Model(inputs=[image_input, features_input], outputs=[score_output, class_output])
model.summary()
model.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss={
        "score_output": keras.losses.MeanSquaredError(),
        "class_output": keras.losses.CategoricalCrossentropy(),
    },
    loss_weights={"score_output": 2.0, "class_output": 1.0},
)
rng = np.random.default_rng(0)
img_data = rng.random((100, 28, 28, 1)).astype("float32")
features_data = rng.random((100, 10)).astype("float32")
score_targets = rng.random((100, 1)).astype("float32")
class_targets = keras.utils.to_categorical(rng.integers(0, 5, 100), 5)
model.fit(
    {"img_input": img_data, "features_input": features_data},
    {"score_output": score_targets, "class_output": class_targets},
    batch_size=32,
    epochs=1,
)

# --- early stopping --------------------------------------------------------------------------
model = get_compiled_model()
callbacks = [
    keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=1e-2, patience=2, verbose=1)
]
model.fit(
    x_train,
    y_train,
    epochs=EPOCHS or 20,
    batch_size=64,
    callbacks=callbacks,
    validation_split=0.2,
)
