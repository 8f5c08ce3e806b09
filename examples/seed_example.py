"""The text's Keras example, written with juanji.

A Sequential CNN of Conv2D, Activation, MaxPooling2D, Flatten and Dense layers, compiled with
SGD(lr 0.05, decay 1e-6, momentum 0.9, Nesterov) and categorical cross-entropy, trained with
a 20% validation split, then trained further on augmented images.

Usage:
    python examples/seed_example.py                 # the embedded digits, resized to 28x28
    python examples/seed_example.py --mnist DIR     # real MNIST IDX files in DIR
"""

import argparse

import numpy as np

import juanji
from juanji.layers import Activation, Conv2D, Dense, Flatten, Input, MaxPooling2D
from juanji.optimizers import SGD
from juanji.preprocessing.image import ImageDataGenerator
from juanji.utils import to_categorical


def load(mnist_dir):
    if mnist_dir:
        (x, y), (x_test, y_test) = juanji.datasets.mnist.load_data(mnist_dir)
        x, x_test = x[..., None], x_test[..., None]  # (N, 28, 28) as Keras gives it, to NHWC
    else:
        (x, y), (x_test, y_test) = juanji.datasets.digits.load_data(image_size=(28, 28))
    return (x.astype("float32") / 255, y), (x_test.astype("float32") / 255, y_test)


def build_model():
    model = juanji.Sequential()
    model.add(Input((28, 28, 1)))
    model.add(Conv2D(4, (5, 5), padding="valid"))
    model.add(Activation("tanh"))
    model.add(Conv2D(8, (3, 3), padding="valid"))
    model.add(Activation("tanh"))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Conv2D(16, (3, 3), padding="valid"))
    model.add(Activation("relu"))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Flatten())
    model.add(Dense(128, kernel_initializer="random_normal"))
    model.add(Activation("tanh"))
    model.add(Dense(10, kernel_initializer="random_normal"))
    model.add(Activation("softmax"))
    sgd = SGD(learning_rate=0.05, decay=1e-6, momentum=0.9, nesterov=True)
    model.compile(optimizer=sgd, loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", metavar="DIR", help="folder with the MNIST IDX files")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--augmented-epochs", type=int, default=2)
    args = parser.parse_args()

    juanji.set_seed(1024)
    (x, y), (x_test, y_test) = load(args.mnist)
    y_onehot, y_test_onehot = to_categorical(y, 10), to_categorical(y_test, 10)
    model = build_model()
    model.summary()
    model.fit(
        x,
        y_onehot,
        batch_size=100,
        epochs=args.epochs,
        shuffle=True,
        verbose=1,
        validation_split=0.2,
    )

    datagen = ImageDataGenerator(rotation_range=10, width_shift_range=0.1, height_shift_range=0.1)
    datagen.fit(x)
    model.fit(
        datagen.flow(x, y_onehot, batch_size=100, seed=0),
        steps_per_epoch=int(np.ceil(len(x) / 100)),
        epochs=args.epochs + args.augmented_epochs,
        initial_epoch=args.epochs,
        verbose=1,
    )

    loss, accuracy = model.evaluate(x_test, y_test_onehot, batch_size=1000)
    print(f"test loss {loss:.4f}  test accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
