"""Image folders as Keras 3 datasets: batches that fit re-reads every epoch, one resize for
folders, ``juanji train`` and ``juanji predict``, and a validation split that holds every
class."""

import numpy as np
import pytest
from PIL import Image

import juanji
from juanji import cli, layers, ops
from juanji.data.images import image_dataset_from_directory, img_to_array, load_img, resize_images
from juanji.models import Sequential


def _write(path, pixels):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


@pytest.fixture
def folder(tmp_path):
    """Three classes of 12 images each, told apart by their brightest channel."""
    rng = np.random.default_rng(0)
    root = tmp_path / "images"
    for k, name in enumerate(["cat", "dog", "emu"]):
        for i in range(12):
            pixels = rng.integers(0, 60, (10 + i % 3, 9, 3), dtype=np.uint8)
            pixels[..., k] += 180
            _write(root / name / f"{i}.png", pixels)
    return root


@pytest.fixture
def split_folder(folder, tmp_path):
    """The same images as ``train/`` (9 per class) and ``test/`` (3 per class) folders."""
    root = tmp_path / "split"
    for path in sorted(folder.rglob("*.png")):
        part = "train" if int(path.stem) < 9 else "test"
        target = root / part / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    return root


def test_batches_of_the_keras_shapes_and_a_new_order_each_time(folder):
    ds = image_dataset_from_directory(folder, image_size=(8, 8), batch_size=5, seed=1)
    assert ds.class_names == ["cat", "dog", "emu"] and len(ds) == 8  # ceil(36 / 5)
    batches = list(ds)
    assert (
        len(batches) == 8 and batches[0][0].shape == (5, 8, 8, 3) and batches[-1][0].shape[0] == 1
    )
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.int64
    first = np.concatenate([y for _, y in batches])
    second = np.concatenate([y for _, y in ds])
    assert sorted(first) == sorted(second) == sorted(ds.y) and not np.array_equal(first, second)
    again = image_dataset_from_directory(folder, image_size=(8, 8), batch_size=5, seed=1)
    np.testing.assert_array_equal(np.concatenate([y for _, y in again]), first)  # seeded
    single = image_dataset_from_directory(folder, image_size=(8, 8), batch_size=None, shuffle=False)
    x, y = next(iter(single))
    assert x.shape == (8, 8, 3) and y == 0 and len(single) == 36
    unlabelled = image_dataset_from_directory(folder, labels=None, image_size=(8, 8), batch_size=4)
    assert next(iter(unlabelled)).shape == (4, 8, 8, 3)


def test_fit_trains_on_the_folder_every_epoch(folder):
    juanji.set_seed(0)
    train, val = image_dataset_from_directory(
        folder, image_size=(8, 8), batch_size=8, validation_split=0.25, subset="both", seed=2
    )
    model = Sequential(
        [
            layers.Input((8, 8, 3)),
            layers.Rescaling(1 / 255),
            layers.GlobalAveragePooling2D(),
            layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(
        juanji.optimizers.Adam(0.1), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    history = model.fit(train, epochs=6, validation_data=val, verbose=0).history
    assert history["loss"][1] < history["loss"][0] and history["loss"][-1] < history["loss"][1]
    assert history["val_accuracy"][-1] > 0.8


def test_one_resize_for_folders_training_and_predict(folder, tmp_path):
    path = folder / "dog" / "4.png"
    raw = img_to_array(load_img(path))  # (11, 9, 3), not resized
    expected = ops.resize(raw[None], size=(7, 5)).data[0]
    np.testing.assert_array_equal(resize_images(raw, (7, 5)), expected)
    np.testing.assert_array_equal(layers.Resizing(7, 5)(raw[None]).data[0], expected)
    ds = image_dataset_from_directory(folder, image_size=(7, 5), shuffle=False)
    np.testing.assert_array_equal(ds.x[ds.file_paths.index(str(path))], expected)
    np.testing.assert_allclose(cli._image_batch([path], (None, 7, 5, 3))[0], expected / 255)
    conformed = cli._conform(raw[None], (7, 5), 3)
    np.testing.assert_array_equal(conformed[0], expected)


def test_resize_images_checks_its_arguments():
    with pytest.raises(ValueError, match="interpolation='lanczos'"):
        resize_images(np.zeros((4, 4, 1)), (2, 2), interpolation="lanczos")
    with pytest.raises(ValueError, match="size"):
        resize_images(np.zeros((4, 4, 1)), (0, 2))
    with pytest.raises(ValueError, match="batch_size=0"):
        image_dataset_from_directory(".", batch_size=0)


def test_the_validation_split_of_a_sorted_folder_holds_every_class(split_folder):
    (x, y), (x_test, y_test), names = cli._load_folder(split_folder, (8, 8), "rgb")
    assert np.all(np.diff(y) >= 0)  # loaded sorted by class, as a folder is
    data = cli.Dataset(x, y, x_test, y_test, names)
    x_fit, y_fit, (x_val, y_val) = cli.hold_out(data, 0.25)
    assert len(x_val) == int(len(x) * 0.25) and len(x_fit) + len(x_val) == len(x)
    val_counts = np.bincount(y_val.argmax(1), minlength=3)
    assert np.all(val_counts > 0) and val_counts.max() - val_counts.min() <= 1  # stratified
    fit_rows = {r.tobytes() for r in x_fit}
    assert not any(r.tobytes() in fit_rows for r in x_val)  # disjoint
    again = cli.hold_out(data, 0.25)[2]
    np.testing.assert_array_equal(again[0], x_val)  # seeded: a resumed run holds out the same
    assert cli.hold_out(data, 0.0)[2] is None
