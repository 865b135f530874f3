"""course_lib.datasets.images: which files are images, and loading them."""

from __future__ import annotations

import numpy as np
import pytest
from phantoms import blob, make_mat, write
from PIL import Image

from course_lib import datasets
from course_lib.datasets import (
    UnreadableImageError,
    load_image,
)


@pytest.mark.parametrize(
    ("mode", "ext"),
    [
        ("L", "png"),
        ("L", "jpg"),
        ("RGB", "png"),
        ("RGB", "jpg"),
        ("RGBA", "png"),
        ("LA", "png"),
        ("P", "png"),
        ("I", "tiff"),
        ("F", "tiff"),
    ],
)
def test_load_image_gives_grayscale_uint8_for_every_mode(tmp_path, mode, ext):
    gray = blob(1)
    path = write(tmp_path / f"x.{ext}", gray, mode)
    out = load_image(path)
    assert out.dtype == np.uint8
    assert out.shape == gray.shape
    tolerance = 3 if ext == "jpg" else 1  # lossy JPEG, palette rounding
    if mode in ("I", "F"):  # min-max scaled; the blob spans 0..255 already
        tolerance = 1
    assert np.abs(out.astype(int) - gray.astype(int)).mean() <= tolerance


def test_load_image_scales_16_bit_by_its_range(tmp_path):
    raw = np.array([[1000, 2000], [3000, 1000]], dtype=np.uint16)
    path = tmp_path / "x16.png"
    Image.fromarray(raw).save(path)
    with Image.open(path) as img:
        assert img.mode.startswith("I;16")
    np.testing.assert_array_equal(load_image(path), [[0, 128], [255, 0]])


def test_load_image_constant_16_bit_is_zeros(tmp_path):
    path = tmp_path / "c.png"
    Image.fromarray(np.full((4, 4), 700, np.uint16)).save(path)
    np.testing.assert_array_equal(load_image(path), np.zeros((4, 4), np.uint8))


def test_load_image_truncated_jpeg_names_the_path(tmp_path):
    path = write(tmp_path / "full.jpg", blob(2, 64))
    data = path.read_bytes()
    bad = tmp_path / "truncated.jpg"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(UnreadableImageError, match="truncated.jpg"):
        load_image(bad)


def test_load_image_not_an_image(tmp_path):
    bad = tmp_path / "fake.png"
    bad.write_text("hello")
    with pytest.raises(UnreadableImageError, match="fake.png"):
        load_image(bad)


def test_load_image_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.png"):
        load_image(tmp_path / "nope.png")


def test_figshare_mat_is_read_rows_first(tmp_path):
    image = np.arange(6 * 8, dtype=np.int16).reshape(6, 8)
    path = make_mat(tmp_path / "1.mat", image, 2, "MR040")
    record = datasets.read_figshare_mat(path)
    np.testing.assert_array_equal(record["image"], image)
    assert (record["label"], record["patient_id"]) == (2, "MR040")
    assert record["tumor_mask"].shape == (6, 8)
    out = load_image(path)
    assert out.shape == (6, 8)
    assert (out[0, 0], out[-1, -1]) == (0, 255)


def test_broken_mat_raises_in_load_image(tmp_path):
    (tmp_path / "x.mat").write_bytes(b"junk")
    with pytest.raises(UnreadableImageError, match="x.mat"):
        load_image(tmp_path / "x.mat")


@pytest.mark.parametrize("limit", [1000, 3000])  # 64 x 64 is over twice / between 1 and 2 times
def test_load_image_over_the_decompression_bomb_limit_is_a_clear_error(
    tmp_path, monkeypatch, limit
):
    path = write(tmp_path / "huge.png", blob(1, 64))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    with pytest.raises(UnreadableImageError, match="huge.png.*too large.*MAX_IMAGE_PIXELS"):
        load_image(path)
