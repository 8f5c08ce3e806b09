"""A Keras 1 program in the style of the seed text runs unchanged, learns and prints hints."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from juanji.datasets import digits

# The seed text's network, training recipe and augmentation loop, in its Keras 1 (and older)
# dialect: class_mode, show_accuracy, nb_epoch, flow() as one pass, model.train(accuracy=True).
SCRIPT = """
from __future__ import absolute_import
from __future__ import print_function
import sys

import numpy as np
from keras.preprocessing.image import ImageDataGenerator
from keras.models import Sequential
from keras.layers.core import Dense, Dropout, Activation, Flatten
from keras.layers.advanced_activations import PReLU
from keras.layers.convolutional import Convolution2D, MaxPooling2D
from keras.optimizers import SGD, Adadelta, Adagrad
from keras.utils import np_utils, generic_utils

np.random.seed(1024)

arrays = np.load(sys.argv[1])
data, label = arrays["data"], arrays["label"]
label = np_utils.to_categorical(label, 10)
nb_epoch = int(sys.argv[2])

model = Sequential()
model.add(Convolution2D(4, 5, 5, border_mode='valid', input_shape=(1, 28, 28)))
model.add(Activation('tanh'))
model.add(Convolution2D(8, 3, 3, border_mode='valid'))
model.add(Activation('tanh'))
model.add(MaxPooling2D(pool_size=(2, 2)))
model.add(Convolution2D(16, 3, 3, border_mode='valid'))
model.add(Activation('relu'))
model.add(MaxPooling2D(pool_size=(2, 2)))
model.add(Flatten())
model.add(Dense(128, init='normal'))
model.add(Activation('tanh'))
model.add(Dense(10, init='normal'))
model.add(Activation('softmax'))

sgd = SGD(lr=0.05, decay=1e-6, momentum=0.9, nesterov=True)
model.compile(loss='categorical_crossentropy', optimizer=sgd, class_mode="categorical")
model.fit(data, label, batch_size=100, nb_epoch=2, shuffle=True, verbose=1,
          show_accuracy=True, validation_split=0.2)

datagen = ImageDataGenerator(
    featurewise_center=True,
    samplewise_center=False,
    featurewise_std_normalization=True,
    samplewise_std_normalization=False,
    zca_whitening=False,
    rotation_range=10,
    width_shift_range=0.1,
    height_shift_range=0.1,
    horizontal_flip=False,
    vertical_flip=False)
datagen.fit(data)

for e in range(nb_epoch):
    print('-' * 40)
    print('Epoch', e)
    print('-' * 40)
    print("Training...")
    progbar = generic_utils.Progbar(data.shape[0])
    for X_batch, Y_batch in datagen.flow(data, label):
        loss, accuracy = model.train(X_batch, Y_batch, accuracy=True)
        progbar.add(X_batch.shape[0], values=[("train loss", loss), ("accuracy:", accuracy)])

test_x = datagen.standardize(arrays["test_data"])
test_y = np_utils.to_categorical(arrays["test_label"], 10)
loss, accuracy = model.evaluate(test_x, test_y, batch_size=100, show_accuracy=True)
print("final accuracy: %.4f" % accuracy)
"""

HINTS = [
    "keras1 hint: Convolution2D(4, 5, 5, border_mode='valid', input_shape=(1, 28, 28)) -> "
    "Conv2D(4, (5, 5), padding='valid', data_format='channels_first', input_shape=(1, 28, 28))",
    "keras1 hint: SGD(lr=0.05, decay=1e-06, momentum=0.9, nesterov=True) -> "
    "SGD(learning_rate=0.05, momentum=0.9, nesterov=True, decay=1e-06)",
    "keras1 hint: fit(..., nb_epoch=2) -> fit(..., epochs=2)",
    "keras1 hint: model.train(x, y, accuracy=True) -> model.train_on_batch(x, y)",
    "keras1 note: compile(class_mode='categorical') has no effect in juanji and is ignored",
]


@pytest.fixture(scope="module")
def script_and_data(tmp_path_factory):
    """The script, and digits resized to 28x28 in [0, 1], channels first, in an .npz."""
    folder = tmp_path_factory.mktemp("keras1")
    (x_train, y_train), (x_test, y_test) = digits.load_data(image_size=(28, 28))
    np.savez(
        folder / "digits.npz",
        data=x_train.transpose(0, 3, 1, 2) / 255.0,
        label=y_train,
        test_data=x_test.transpose(0, 3, 1, 2) / 255.0,
        test_label=y_test,
    )
    (folder / "text_net.py").write_text(SCRIPT)
    return folder / "text_net.py", folder / "digits.npz"


@pytest.mark.parametrize(
    "command,epochs",
    [
        (["-m", "juanji.compat.keras1"], "2"),
        (["-m", "juanji", "run-keras1"], "1"),
    ],
    ids=["module", "cli"],
)
def test_the_text_style_script_runs_unchanged_and_learns(script_and_data, command, epochs):
    script, data = script_and_data
    env = {k: v for k, v in os.environ.items() if k != "JUANJI_NO_HINTS"}
    result = subprocess.run(
        [sys.executable, *command, str(script), str(data), epochs],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=script.parent,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    accuracy = float(re.search(r"final accuracy: ([\d.]+)", result.stdout).group(1))
    assert accuracy > 0.5, result.stdout[-3000:]
    assert result.stdout.count("Training...") == int(epochs)
    assert f"{len(np.load(data)['label'])}/{len(np.load(data)['label'])} [" in result.stdout
    for hint in HINTS:
        assert hint in result.stderr
    assert result.stderr.count("keras1 hint: Convolution2D") == 1
