"""Image files and folders: modes, sizes, labels, splits and unreadable files."""

import warnings

import numpy as np
import pytest
from PIL import Image

from juanji.data.images import (
    ImageDataset,
    array_to_img,
    image_dataset_from_directory,
    img_to_array,
    load_img,
)

GREY, RGB = 200, (10, 120, 250)


def _write(path, mode, size, fmt):
    """A solid image: grey level GREY, or colour RGB (opaque), in any mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", size, RGB) if mode != "L" else Image.new("L", size, GREY)
    if mode == "RGBA":
        img = img.convert("RGBA")
    elif mode == "P":
        img = img.convert("P", palette=Image.Palette.ADAPTIVE)
    img.save(path, fmt)


@pytest.fixture
def folder(tmp_path):
    """Two classes, created out of alphabetical order, with mixed formats, sizes and modes."""
    root = tmp_path / "images"
    _write(root / "zebra" / "a.png", "L", (10, 12), "PNG")
    _write(root / "zebra" / "b.jpg", "RGB", (31, 17), "JPEG")
    _write(root / "zebra" / "nested" / "c.bmp", "RGB", (8, 8), "BMP")
    _write(root / "zebra" / "d.png", "P", (40, 9), "PNG")
    _write(root / "ant" / "e.png", "RGBA", (16, 16), "PNG")
    _write(root / "ant" / "f.bmp", "L", (5, 33), "BMP")
    _write(root / "ant" / "g.png", "P", (20, 20), "PNG")
    _write(root / "ant" / "h.jpeg", "L", (64, 48), "JPEG")
    _write(root / "ant" / "i.png", "RGB", (3, 3), "PNG")
    _write(root / "ant" / "j.png", "RGB", (7, 11), "PNG")
    (root / "ant" / "notes.txt").write_text("not an image")
    return root


def test_grayscale_folder_labels_and_sizes(folder):
    ds = image_dataset_from_directory(
        folder, color_mode="grayscale", image_size=(6, 5), shuffle=False
    )
    assert isinstance(ds, ImageDataset)
    assert ds.class_names == ["ant", "zebra"]
    assert ds.x.shape == (10, 6, 5, 1) and ds.x.dtype == np.float32
    assert ds.y.dtype == np.int64 and ds.y.tolist() == [0] * 6 + [1] * 4
    names = [p.replace(str(folder), "") for p in ds.file_paths]
    assert names[0].endswith("ant/e.png") and names[-1].endswith("zebra/nested/c.bmp")
    # A solid image stays solid; colours go to Pillow's luma (L = 0.299 R + 0.587 G + 0.114 B).
    luma = round(0.299 * RGB[0] + 0.587 * RGB[1] + 0.114 * RGB[2])
    for path, image in zip(ds.file_paths, ds.x, strict=True):
        expected = GREY if path.endswith(("a.png", "f.bmp", "h.jpeg")) else luma
        assert np.abs(image - expected).max() <= (2 if path.endswith((".jpg", ".jpeg")) else 1)


@pytest.mark.parametrize("color_mode,channels", [("rgb", 3), ("rgba", 4)])
def test_colour_modes(folder, color_mode, channels):
    ds = image_dataset_from_directory(folder, color_mode=color_mode, image_size=(4, 4), seed=1)
    assert ds.x.shape == (10, 4, 4, channels)
    i = next(i for i, p in enumerate(ds.file_paths) if p.endswith("i.png"))
    np.testing.assert_array_equal(ds.x[i, :, :, :3], np.broadcast_to(RGB, (4, 4, 3)))
    if channels == 4:
        assert np.all(ds.x[..., 3] == 255)  # every test image is opaque, P and RGBA alike
    for path, label in zip(ds.file_paths, ds.y, strict=True):
        assert f"/{ds.class_names[label]}/" in path


def test_shuffle_is_seeded_and_keeps_pairs(folder):
    a = image_dataset_from_directory(folder, image_size=(4, 4), seed=3)
    b = image_dataset_from_directory(folder, image_size=(4, 4), seed=3)
    c = image_dataset_from_directory(folder, image_size=(4, 4), shuffle=False)
    assert a.file_paths == b.file_paths and a.file_paths != c.file_paths
    assert sorted(a.file_paths) == sorted(c.file_paths)


def test_validation_split(folder):
    kwargs = dict(image_size=(4, 4), validation_split=0.3, seed=7)
    train = image_dataset_from_directory(folder, subset="training", **kwargs)
    val = image_dataset_from_directory(folder, subset="validation", **kwargs)
    both = image_dataset_from_directory(folder, subset="both", **kwargs)
    assert len(train.x) == 7 and len(val.x) == 3 and len(train.y) == 7
    assert not set(train.file_paths) & set(val.file_paths)
    assert len(set(train.file_paths) | set(val.file_paths)) == 10
    assert both[0].file_paths == train.file_paths and both[1].file_paths == val.file_paths
    np.testing.assert_array_equal(both[1].x, val.x)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(validation_split=0.2, subset="training"), "seed"),
        (dict(subset="training"), "together"),
        (dict(validation_split=0.2, seed=1), "together"),
        (dict(validation_split=1.5, subset="training", seed=1), "validation_split=1.5"),
        (dict(color_mode="cmyk"), "color_mode='cmyk'"),
        (dict(image_size=(0, 4)), "image_size"),
        (dict(class_names=["ant", "cat"]), "class_names"),
        (dict(label_mode="binary", class_names=["ant"]), "2 classes"),
        (dict(on_error="ignore"), "on_error"),
    ],
)
def test_bad_options(folder, kwargs, match):
    with pytest.raises(ValueError, match=match):
        image_dataset_from_directory(folder, **kwargs)


def test_label_modes_and_class_names(folder):
    cat = image_dataset_from_directory(folder, image_size=(2, 2), label_mode="categorical")
    assert cat.y.shape == (10, 2) and cat.y.dtype == np.float32
    assert np.all(cat.y.sum(1) == 1)
    binary = image_dataset_from_directory(folder, image_size=(2, 2), label_mode="binary", seed=0)
    assert binary.y.shape == (10, 1) and set(binary.y[:, 0]) == {0.0, 1.0}
    only = image_dataset_from_directory(folder, image_size=(2, 2), class_names=["zebra"])
    assert only.class_names == ["zebra"] and len(only.x) == 4 and set(only.y) == {0}
    unlabelled = image_dataset_from_directory(folder, image_size=(2, 2), labels=None)
    assert unlabelled.y is None and unlabelled.class_names is None and len(unlabelled.x) == 10


def test_explicit_labels_follow_sorted_paths(folder):
    labels = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]
    ds = image_dataset_from_directory(folder, image_size=(2, 2), labels=labels, shuffle=False)
    assert ds.y.tolist() == labels and ds.file_paths[0].endswith("ant/e.png")
    with pytest.raises(ValueError, match="len\\(labels\\)=2"):
        image_dataset_from_directory(folder, labels=[0, 1])


def test_a_folder_without_images(tmp_path):
    (tmp_path / "a").mkdir()
    with pytest.raises(ValueError, match="none found"):
        image_dataset_from_directory(tmp_path)
    with pytest.raises(ValueError, match="existing folder"):
        image_dataset_from_directory(tmp_path / "missing")


@pytest.fixture
def broken(folder):
    """The folder with a file that is not an image and a truncated PNG."""
    (folder / "ant" / "garbage.png").write_bytes(b"definitely not a png")
    good = (folder / "ant" / "e.png").read_bytes()
    (folder / "zebra" / "cut.png").write_bytes(good[: len(good) // 2])
    return folder


def test_unreadable_files_raise_by_name(broken):
    with pytest.raises(ValueError) as info:
        image_dataset_from_directory(broken, image_size=(4, 4))
    message = str(info.value)
    assert "2 image file(s)" in message and "garbage.png" in message and "cut.png" in message
    assert "on_error='skip'" in message


def test_unreadable_files_are_skipped_with_one_warning(broken):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = image_dataset_from_directory(broken, image_size=(4, 4), on_error="skip", seed=0)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "garbage.png" in message and "cut.png" in message
    assert len(ds.x) == len(ds.y) == len(ds.file_paths) == 10
    assert not any(p.endswith(("garbage.png", "cut.png")) for p in ds.file_paths)
    for path, label in zip(ds.file_paths, ds.y, strict=True):
        assert f"/{ds.class_names[label]}/" in path


def test_load_img_and_img_to_array(folder):
    path = folder / "zebra" / "d.png"
    img = load_img(path)
    assert img.mode == "RGB" and img.size == (40, 9)
    small = load_img(path, color_mode="grayscale", target_size=(3, 5), interpolation="bilinear")
    assert small.mode == "L" and small.size == (5, 3)
    x = img_to_array(small)
    assert x.shape == (3, 5, 1) and x.dtype == np.float32
    rgba = img_to_array(load_img(path, color_mode="rgba"), data_format="channels_first")
    assert rgba.shape == (4, 9, 40)
    with pytest.raises(ValueError, match="interpolation='cubic'"):
        load_img(path, interpolation="cubic")


@pytest.mark.parametrize("channels,mode", [(1, "L"), (3, "RGB"), (4, "RGBA")])
def test_array_to_img_round_trip(channels, mode):
    x = np.random.default_rng(0).integers(0, 256, (5, 7, channels)).astype(np.float32)
    img = array_to_img(x, scale=False)
    assert img.mode == mode and img.size == (7, 5)
    np.testing.assert_array_equal(img_to_array(img), x)
    stretched = img_to_array(array_to_img(x / 1000 - 3))
    assert stretched.min() == 0 and stretched.max() == 255
    first = array_to_img(x.transpose(2, 0, 1), data_format="channels_first", scale=False)
    np.testing.assert_array_equal(img_to_array(first), x)


def test_array_to_img_rejects_other_channel_counts():
    with pytest.raises(ValueError, match="1, 3 or 4 channels"):
        array_to_img(np.zeros((4, 4, 2)))
