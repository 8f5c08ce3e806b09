"""Keras 3's guide "The Functional API", on juanji.

A functional MLP built from symbolic tensors, summarised, trained, evaluated, saved and
reloaded; a model used as a layer; an ensemble averaging three models; a layer shared by
two inputs; a model of two inputs and two outputs; and a toy ResNet with skip connections.

Run: ``python examples/keras3/functional_api.py``. Environment variables:
``KERAS3_SAMPLES`` (the first N training and test images), ``KERAS3_EPOCHS`` (train that
many epochs), ``KERAS3_WITH_KERAS=1`` (the same program on Keras 3 itself, to compare),
``KERAS3_SEED`` (the seed given to ``utils.set_random_seed``, default 1).
"""

import os
import tempfile

import numpy as np

if os.environ.get("KERAS3_WITH_KERAS"):
    import keras
    from keras import layers

    MODEL_FILE = "keras"  # each framework writes its own model file format
else:
    import juanji as keras
    from juanji import layers

    MODEL_FILE = "juanji"

SAMPLES = int(os.environ.get("KERAS3_SAMPLES", 0)) or None
EPOCHS = int(os.environ.get("KERAS3_EPOCHS", 0)) or None
keras.utils.set_random_seed(int(os.environ.get("KERAS3_SEED", 1)))

# --- a first functional model ---------------------------------------------------------------------
inputs = keras.Input(shape=(784,))
dense = layers.Dense(64, activation="relu")
x = dense(inputs)
x = layers.Dense(64, activation="relu")(x)
outputs = layers.Dense(10)(x)
model = keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")
model.summary()

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train, y_train = x_train[:SAMPLES], y_train[:SAMPLES]
x_test, y_test = x_test[:SAMPLES], y_test[:SAMPLES]
x_train = x_train.reshape(len(x_train), 784).astype("float32") / 255
x_test = x_test.reshape(len(x_test), 784).astype("float32") / 255

model.compile(
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    optimizer=keras.optimizers.RMSprop(),
    metrics=["accuracy"],
)
history = model.fit(x_train, y_train, batch_size=64, epochs=EPOCHS or 2, validation_split=0.2)
test_scores = model.evaluate(x_test, y_test, verbose=2)
print("Test loss:", test_scores[0])
print("Test accuracy:", test_scores[1])

path = os.path.join(tempfile.mkdtemp(), "my_model." + MODEL_FILE)
model.save(path)
del model
model = keras.saving.load_model(path)
print("Reloaded model's test accuracy:", model.evaluate(x_test, y_test, verbose=0)[1])

# --- a model is a layer: the encoder inside a bigger model ----------------------------------------
encoder_input = keras.Input(shape=(784,), name="original")
encoded = layers.Dense(32, activation="relu")(encoder_input)
encoder = keras.Model(encoder_input, encoded, name="encoder")
autoencoder_input = keras.Input(shape=(784,), name="digits")
decoded = layers.Dense(784, activation="sigmoid")(encoder(autoencoder_input))
autoencoder = keras.Model(autoencoder_input, decoded, name="autoencoder")
autoencoder.summary()


# --- an ensemble: three models, their outputs averaged --------------------------------------------
def get_model():
    inputs = keras.Input(shape=(128,))
    outputs = layers.Dense(1)(inputs)
    return keras.Model(inputs, outputs)


model1, model2, model3 = get_model(), get_model(), get_model()
inputs = keras.Input(shape=(128,))
outputs = layers.Average()([model1(inputs), model2(inputs), model3(inputs)])
ensemble_model = keras.Model(inputs=inputs, outputs=outputs)
print("Ensemble output:", ensemble_model.predict(np.ones((2, 128), "float32")).shape)

# --- a layer shared by two inputs -----------------------------------------------------------------
shared = layers.Dense(16, activation="relu", name="shared")
left, right = keras.Input(shape=(784,), name="left"), keras.Input(shape=(784,), name="right")
both = layers.Concatenate()([shared(left), shared(right)])
same = keras.Model([left, right], layers.Dense(1, activation="sigmoid")(both))
same.summary()

# --- two inputs, two outputs, a loss per output ---------------------------------------------------
num_tags, num_departments = 12, 4
title_input = keras.Input(shape=(64,), name="title")
body_input = keras.Input(shape=(128,), name="body")
tags_input = keras.Input(shape=(num_tags,), name="tags")
title_features = layers.Dense(32, activation="relu")(title_input)
body_features = layers.Dense(32, activation="relu")(body_input)
x = layers.Concatenate()([title_features, body_features, tags_input])
priority_pred = layers.Dense(1, name="priority")(x)
department_pred = layers.Dense(num_departments, name="department")(x)
model = keras.Model(
    inputs=[title_input, body_input, tags_input],
    outputs={"priority": priority_pred, "department": department_pred},
)
model.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss={
        "priority": keras.losses.BinaryCrossentropy(from_logits=True),
        "department": keras.losses.CategoricalCrossentropy(from_logits=True),
    },
    loss_weights={"priority": 1.0, "department": 0.2},
)
rng = np.random.default_rng(0)
title_data = rng.random((256, 64)).astype("float32")
body_data = rng.random((256, 128)).astype("float32")
tags_data = rng.integers(0, 2, (256, num_tags)).astype("float32")
priority_targets = rng.random((256, 1)).astype("float32")
dept_targets = rng.integers(0, 2, (256, num_departments)).astype("float32")
model.fit(
    {"title": title_data, "body": body_data, "tags": tags_data},
    {"priority": priority_targets, "department": dept_targets},
    epochs=2,
    batch_size=32,
)

# --- a toy ResNet: skip connections add earlier outputs back --------------------------------------
inputs = keras.Input(shape=(28, 28, 1), name="img")
x = layers.Conv2D(32, 3, activation="relu")(inputs)
x = layers.Conv2D(64, 3, activation="relu")(x)
block_1_output = layers.MaxPooling2D(3)(x)
x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_1_output)
x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
block_2_output = layers.Add()([x, block_1_output])
x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_2_output)
x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
x += block_2_output
x = layers.Conv2D(64, 3, activation="relu")(x)
x = layers.GlobalAveragePooling2D()(x)
x = layers.Dense(256, activation="relu")(x)
x = layers.Dropout(0.5)(x)
outputs = layers.Dense(10)(x)
model = keras.Model(inputs, outputs, name="toy_resnet")
model.summary()
model.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["acc"],
)
images = x_train.reshape(-1, 28, 28, 1)
model.fit(images, y_train, batch_size=64, epochs=1, validation_split=0.2)
test_images = x_test.reshape(-1, 28, 28, 1)
print("Toy ResNet test accuracy:", model.evaluate(test_images, y_test, verbose=0)[1])
