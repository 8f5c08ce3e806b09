"""The classic Keras MNIST multilayer perceptron, on juanji.

Two hidden layers of 512 ReLU units with dropout, declared with ``input_shape``, trained
with RMSprop on one-hot labels and scored on the test set.

Run: ``python examples/keras3/mnist_mlp.py``. Environment variables: ``KERAS3_SAMPLES``
(the first N training and test images), ``KERAS3_EPOCHS`` (train that many epochs),
``KERAS3_WITH_KERAS=1`` (the same program on Keras 3 itself, to compare).
"""

import os

if os.environ.get("KERAS3_WITH_KERAS"):
    import keras
    from keras.datasets import mnist
    from keras.layers import Dense, Dropout
    from keras.models import Sequential
    from keras.optimizers import RMSprop
else:
    import juanji as keras
    from juanji.datasets import mnist
    from juanji.layers import Dense, Dropout
    from juanji.models import Sequential
    from juanji.optimizers import RMSprop

SAMPLES = int(os.environ.get("KERAS3_SAMPLES", 0)) or None
EPOCHS = int(os.environ.get("KERAS3_EPOCHS", 0)) or None

batch_size = 128
num_classes = 10
epochs = EPOCHS or 20

(x_train, y_train), (x_test, y_test) = mnist.load_data()
x_train, y_train = x_train[:SAMPLES], y_train[:SAMPLES]
x_test, y_test = x_test[:SAMPLES], y_test[:SAMPLES]
x_train = x_train.reshape(len(x_train), 784).astype("float32") / 255
x_test = x_test.reshape(len(x_test), 784).astype("float32") / 255
print(x_train.shape[0], "train samples")
print(x_test.shape[0], "test samples")

y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)

model = Sequential()
model.add(Dense(512, activation="relu", input_shape=(784,)))
model.add(Dropout(0.2))
model.add(Dense(512, activation="relu"))
model.add(Dropout(0.2))
model.add(Dense(num_classes, activation="softmax"))
model.summary()

model.compile(loss="categorical_crossentropy", optimizer=RMSprop(), metrics=["accuracy"])
history = model.fit(
    x_train,
    y_train,
    batch_size=batch_size,
    epochs=epochs,
    verbose=1,
    validation_data=(x_test, y_test),
)
score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])
