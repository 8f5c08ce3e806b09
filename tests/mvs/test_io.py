"""juanji.mvs.io: PFM as MVSNet writes it, PLY, colour maps."""

import numpy as np
import pytest

from juanji.mvs.io import colorize, read_pfm, read_ply, write_pfm, write_ply


def test_pfm_is_little_endian_bottom_row_first(tmp_path):
    depth = np.arange(12, dtype=np.float32).reshape(3, 4)
    path = tmp_path / "d.pfm"
    write_pfm(path, depth)
    data = path.read_bytes()
    assert data.startswith(b"Pf\n4 3\n-1\n")
    body = np.frombuffer(data[len(b"Pf\n4 3\n-1\n") :], "<f4")
    np.testing.assert_array_equal(body[:4], depth[2])  # the bottom row comes first
    np.testing.assert_array_equal(read_pfm(path), depth)


def test_pfm_reads_big_endian_and_colour(tmp_path):
    image = np.random.default_rng(0).random((2, 3, 3)).astype(np.float32)
    path = tmp_path / "c.pfm"
    path.write_bytes(b"PF\n3 2\n1.0\n" + np.flipud(image).astype(">f4").tobytes())
    np.testing.assert_array_equal(read_pfm(path), image)
    write_pfm(path, image)
    np.testing.assert_array_equal(read_pfm(path), image)


@pytest.mark.parametrize(
    "content,message",
    [(b"P6\n1 1\n255\n", "Pf or PF"), (b"Pf\n4 3\n-1\n\x00\x00", "expected 12 floats"),
     (b"Pf\nfour 3\n-1\n", "width height")],
)  # fmt: skip
def test_bad_pfm_files(tmp_path, content, message):
    path = tmp_path / "bad.pfm"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        read_pfm(path)


def test_ply_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    points, colors = rng.normal(size=(10, 3)), rng.random((10, 3))
    path = tmp_path / "p.ply"
    write_ply(path, points, colors)
    assert path.read_bytes().startswith(b"ply\nformat binary_little_endian 1.0\n")
    read_points, read_colors = read_ply(path)
    np.testing.assert_allclose(read_points, points, rtol=1e-6)
    np.testing.assert_array_equal(read_colors, np.round(colors * 255))
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(ValueError, match="expected 10 vertices"):
        read_ply(path)


def test_colorize_maps_the_range_and_blacks_out_non_finite():
    rgb = colorize(np.array([[0.0, 1.0, np.inf]]))
    assert rgb.shape == (1, 3, 3) and rgb.dtype == np.uint8
    assert not np.array_equal(rgb[0, 0], rgb[0, 1])
    np.testing.assert_array_equal(rgb[0, 2], 0)
