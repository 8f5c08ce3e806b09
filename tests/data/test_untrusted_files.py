"""Data files are untrusted input: IDX files and images are read within limits, only from
regular files, only by the allowed decoders, never starting a process or hanging."""

import gzip
import os
import stat

import numpy as np
import pytest
from PIL import EpsImagePlugin, Image

from juanji.data import DataFileError, image_dataset_from_directory, load_img, read_idx, write_idx
from tests.safety import no_hang, no_process

EPS = b"""%!PS-Adobe-3.0 EPSF-3.0
%%BoundingBox: 0 0 8 8
newpath 0 0 moveto 8 8 lineto stroke
showpage
"""


def _idx_header(code, shape):
    return bytes([0, 0, code, len(shape)]) + b"".join(n.to_bytes(4, "big") for n in shape)


# --- IDX ---------------------------------------------------------------------------------
def test_a_gzip_bomb_is_refused_before_decompressing(tmp_path):
    path = tmp_path / "bomb-idx1-ubyte.gz"
    n = 200 * 2**20
    with gzip.open(path, "wb", compresslevel=1) as f:  # 200 MiB of zeros, about 200 KB
        f.write(_idx_header(0x08, (n,)))
        f.write(bytes(n))
    with pytest.raises(DataFileError, match=rf"{path}.*declares {n} bytes.*limit of {2**20}"):
        read_idx(path, max_bytes=2**20)


def test_a_gzip_header_declaring_more_than_deflate_can_give_is_refused(tmp_path):
    path = tmp_path / "lie-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(_idx_header(0x08, (60000, 280, 28)) + bytes(1000)))
    with pytest.raises(DataFileError, match="more data than its .* compressed bytes can hold"):
        read_idx(path)


@pytest.mark.parametrize(
    "shape",
    [(2**16, 2**16, 2**16, 2**16), (2**32 - 1, 2**32 - 1, 2**32 - 1)],
    ids=["product 2**64 (0 in int64)", "product 2**96 - ..."],
)
def test_a_shape_whose_product_wraps_int64_is_refused(tmp_path, shape):
    path = tmp_path / "wrap-idx-ubyte"
    path.write_bytes(_idx_header(0x08, shape))
    with pytest.raises(DataFileError, match=rf"{path}.*above the limit"):
        read_idx(path)


def test_devices_and_fifos_are_refused_not_read(tmp_path):
    fifo = tmp_path / "fifo-idx1-ubyte"
    os.mkfifo(fifo)
    for path, kind in (("/dev/zero", "character device"), (fifo, "FIFO")):
        with no_hang(), pytest.raises(DataFileError, match=f"not a regular file .*{kind}"):
            read_idx(path)


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(DataFileError, match="is a folder"):
        read_idx(tmp_path)


def test_a_valid_file_still_round_trips(tmp_path):
    a = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    for name in ("a-idx3", "a-idx3.gz"):
        write_idx(tmp_path / name, a)
        np.testing.assert_array_equal(read_idx(tmp_path / name), a)


# --- images ------------------------------------------------------------------------------
@pytest.fixture
def fake_ghostscript(tmp_path, monkeypatch):
    """A `gs` on PATH that Pillow's EPS plugin would start, and a file of PostScript named
    like a PNG."""
    gs = tmp_path / "bin" / "gs"
    gs.parent.mkdir()
    gs.write_text("#!/bin/sh\nexit 1\n")
    gs.chmod(gs.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{gs.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(EpsImagePlugin, "gs_binary", None)
    monkeypatch.setattr(EpsImagePlugin, "gs_windows_binary", None, raising=False)
    path = tmp_path / "images" / "a" / "page.png"
    path.parent.mkdir(parents=True)
    path.write_bytes(EPS)
    return path


def _error_of(function, *args, **kwargs):
    try:
        function(*args, **kwargs)
    except Exception as error:
        return error
    raise AssertionError(f"{function.__name__} raised nothing")


def test_postscript_named_png_never_reaches_ghostscript(fake_ghostscript):
    with no_process() as attempts:
        alone = _error_of(load_img, fake_ghostscript)
        folder = _error_of(
            image_dataset_from_directory, fake_ghostscript.parents[1], image_size=(8, 8)
        )
    assert attempts == []
    assert isinstance(alone, DataFileError) and "not an image juanji reads" in str(alone)
    assert isinstance(folder, ValueError) and "page.png" in str(folder)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM"])
def test_the_allowed_formats_load(tmp_path, fmt):
    path = tmp_path / f"x.{fmt.lower()}"
    Image.fromarray(np.full((5, 7, 3), 200, np.uint8)).save(path, format=fmt)
    img = load_img(path, color_mode="grayscale")
    assert img.size == (7, 5) and abs(np.asarray(img, float).mean() - 200) < 3


@pytest.mark.parametrize("fmt", ["ICO", "TGA", "PCX", "SGI"])
def test_other_formats_are_refused_whatever_their_name(tmp_path, fmt):
    path = tmp_path / "x.png"
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(path, format=fmt)
    with pytest.raises(DataFileError, match="not an image juanji reads"):
        load_img(path)


def test_16_bit_pngs_are_scaled_not_saturated(tmp_path):
    ramp = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(ramp).save(path)
    assert Image.open(path).mode == "I;16"
    for mode, channels in (("grayscale", 1), ("rgb", 3)):
        x = np.asarray(load_img(path, color_mode=mode), np.float64).reshape(64, 64, channels)
        np.testing.assert_allclose(x.mean(), 127.5, atol=0.5)
        np.testing.assert_allclose(x[..., 0], ramp / 257, atol=0.51)


def test_decompression_bombs_are_data_file_errors(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    Image.new("L", (100, 100)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(DataFileError, match=f"{path}.*DecompressionBombError"):
        load_img(path)


def test_truncated_images_are_data_file_errors(tmp_path):
    path = tmp_path / "cut.png"
    Image.fromarray(np.zeros((32, 32), np.uint8) + 7).save(path)
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(DataFileError, match=str(path)):
        load_img(path)


def test_fifos_among_images_are_refused_not_waited_on(tmp_path):
    folder = tmp_path / "images" / "a"
    folder.mkdir(parents=True)
    Image.new("L", (4, 4)).save(folder / "ok.png")
    os.mkfifo(folder / "stuck.png")
    with no_hang():
        with pytest.raises(DataFileError, match="not a regular file .*FIFO"):
            load_img(folder / "stuck.png")
        with pytest.raises(ValueError, match="stuck.png.*FIFO"):
            image_dataset_from_directory(tmp_path / "images", image_size=(4, 4))
        with pytest.warns(UserWarning, match="stuck.png"):
            data = image_dataset_from_directory(
                tmp_path / "images", image_size=(4, 4), on_error="skip"
            )
    assert data.file_paths == [str(folder / "ok.png")]


def _two_images(root):
    for name, value in (("a", 10), ("b", 20)):
        (root / name).mkdir(parents=True)
        Image.new("L", (4, 4), value).save(root / name / f"{name}.png")


def test_a_symlink_loop_lists_each_file_once(tmp_path):
    root = tmp_path / "images"
    _two_images(root)
    (root / "a" / "loop").symlink_to(root / "a")
    (root / "b" / "up").symlink_to(root)
    with no_hang():
        data = image_dataset_from_directory(
            root, image_size=(4, 4), follow_links=True, shuffle=False
        )
    assert sorted(data.file_paths) == [str(root / "a" / "a.png"), str(root / "b" / "b.png")]


@pytest.mark.parametrize("follow_links", [False, True])
def test_a_class_folder_linked_to_the_root_adds_no_second_label(tmp_path, follow_links):
    root = tmp_path / "images"
    _two_images(root)
    (root / "c").symlink_to(root)
    data = image_dataset_from_directory(
        root, image_size=(4, 4), follow_links=follow_links, shuffle=False
    )
    assert data.class_names == ["a", "b", "c"]
    assert data.file_paths == [str(root / "a" / "a.png"), str(root / "b" / "b.png")]
    assert data.y.tolist() == [0, 1]


def test_a_file_linked_twice_is_listed_once(tmp_path):
    root = tmp_path / "images"
    _two_images(root)
    (root / "b" / "again.png").symlink_to(root / "a" / "a.png")
    os.link(root / "b" / "b.png", root / "b" / "hard.png")
    data = image_dataset_from_directory(root, image_size=(4, 4), shuffle=False)
    assert data.file_paths == [str(root / "a" / "a.png"), str(root / "b" / "b.png")]
