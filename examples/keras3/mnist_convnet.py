"""A simple MNIST convnet, the "Hello World" of Keras 3's examples, on juanji.

Two convolution blocks, dropout and a softmax classifier, trained with Adam on one-hot
labels with 10% of the training images held out for validation.

Run: ``python examples/keras3/mnist_convnet.py``. Environment variables: ``KERAS3_SAMPLES``
(use only the first N training and test images), ``KERAS3_EPOCHS`` (train that many
epochs), ``KERAS3_WITH_KERAS=1`` (run the same program on Keras 3 itself, to compare).
"""

import os

import numpy as np

if os.environ.get("KERAS3_WITH_KERAS"):
    import keras
    from keras import layers
else:
    import juanji as keras
    from juanji import layers

SAMPLES = int(os.environ.get("KERAS3_SAMPLES", 0)) or None
EPOCHS = int(os.environ.get("KERAS3_EPOCHS", 0)) or None

num_classes = 10
input_shape = (28, 28, 1)

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train, y_train, x_test, y_test = (
    x_train[:SAMPLES],
    y_train[:SAMPLES],
    x_test[:SAMPLES],
    y_test[:SAMPLES],
)

# pixels to [0, 1], and a channel axis: (N, 28, 28) -> (N, 28, 28, 1)
x_train = np.expand_dims(x_train.astype("float32") / 255, -1)
x_test = np.expand_dims(x_test.astype("float32") / 255, -1)
print(
    "x_train shape:",
    x_train.shape,
    "-",
    x_train.shape[0],
    "train samples,",
    x_test.shape[0],
    "test samples",
)

y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)

model = keras.Sequential(
    [
        keras.Input(shape=input_shape),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax"),
    ]
)
model.summary()

batch_size = 128
epochs = EPOCHS or 15
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1)

score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])
