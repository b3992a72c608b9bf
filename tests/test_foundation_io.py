"""Image I/O: round trips, grey/alpha/EXIF policies, bad files."""
from __future__ import annotations

import io
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixfuse.errors import ImageReadError, ImageTooLargeError, InputError, OutputError
from pixfuse.io import read_image, set_max_pixels, write_image

from conftest import data_path

RNG = np.random.default_rng(7)


@pytest.mark.parametrize("suffix", [".png", ".tif", ".bmp"])
@pytest.mark.parametrize("colour", [False, True])
def test_roundtrip_8bit_exact(tmp_path, suffix, colour):
    shape = (37, 53, 3) if colour else (37, 53)
    raw = RNG.integers(0, 256, shape, dtype=np.uint8)
    if colour:
        raw[0, 0] = [1, 2, 3]  # make sure channels differ
    p = write_image(tmp_path / f"a{suffix}", raw.astype(np.float32) / 255, bit_depth=8)
    img, meta = read_image(p)
    assert meta.bit_depth == 8
    assert np.array_equal(np.rint(img * 255).astype(np.uint8), raw)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("colour", [False, True])
def test_roundtrip_16bit_exact(tmp_path, suffix, colour):
    shape = (29, 31, 3) if colour else (29, 31)
    raw = RNG.integers(0, 65536, shape, dtype=np.uint16)
    if colour:
        raw[0, 0] = [1, 2, 3]
    p = write_image(tmp_path / f"a{suffix}", raw.astype(np.float32) / 65535, bit_depth=16)
    img, meta = read_image(p)
    assert meta.bit_depth == 16
    assert np.array_equal(np.rint(img.astype(np.float64) * 65535).astype(np.uint16), raw)


def test_roundtrip_float_tiff(tmp_path):
    a = RNG.random((20, 24)).astype(np.float32)
    img, meta = read_image(write_image(tmp_path / "f.tif", a, bit_depth=32))
    assert meta.bit_depth == 32 and np.array_equal(img, a)


def test_grey_stored_as_rgb_is_grey():
    img, meta = read_image(data_path("ivif", "tno", "ir", "cddfuse_07.png"))
    assert img.ndim == 2 and meta.stored_as_rgb_gray
    raw = np.asarray(Image.open(data_path("ivif", "tno", "ir", "cddfuse_07.png")))
    assert np.array_equal(np.rint(img * 255).astype(np.uint8), raw[:, :, 0])


def test_real_colour_and_grey_files():
    ir, m1 = read_image(data_path("ivif", "msrs", "ir", "00537D.png"))
    vi, m2 = read_image(data_path("ivif", "msrs", "vi", "00537D.png"))
    assert ir.shape == (480, 640) and vi.shape == (480, 640, 3)
    assert ir.dtype == np.float32 and 0 <= ir.min() and ir.max() <= 1
    raw = np.asarray(Image.open(data_path("ivif", "msrs", "vi", "00537D.png")))
    assert np.array_equal(np.rint(vi * 255).astype(np.uint8), raw)


def test_rgba_opaque_dropped_with_warning(tmp_path):
    rgba = np.dstack([RNG.integers(0, 256, (16, 16, 3), dtype=np.uint8), np.full((16, 16), 255, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    with pytest.warns(UserWarning, match="alpha"):
        img, meta = read_image(tmp_path / "a.png")
    assert img.shape == (16, 16, 3) and meta.dropped_alpha
    assert np.array_equal(np.rint(img * 255).astype(np.uint8), rgba[:, :, :3])


def test_rgba_transparent_is_error(tmp_path):
    rgba = np.dstack([np.zeros((16, 16, 3), np.uint8), np.full((16, 16), 255, np.uint8)])
    rgba[3, 3, 3] = 10
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    with pytest.raises(InputError, match="not fully opaque"):
        read_image(tmp_path / "a.png")


def test_exif_orientation_applied(tmp_path):
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = 255  # left half white
    im = Image.fromarray(arr)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    im.save(tmp_path / "o.jpg", exif=exif.tobytes(), quality=100)
    img, meta = read_image(tmp_path / "o.jpg")
    assert meta.exif_orientation == 6
    assert img.shape[:2] == (40, 20)
    # displayed upright: the white half is now at the top
    assert img[:20].mean() > 0.9 and img[20:].mean() < 0.1


def test_empty_file(tmp_path):
    (tmp_path / "e.png").write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty"):
        read_image(tmp_path / "e.png")


def test_text_file_named_png(tmp_path):
    (tmp_path / "t.png").write_text("hello, I am not an image\n")
    with pytest.raises(ImageReadError, match="not a recognised image"):
        read_image(tmp_path / "t.png")


def test_truncated_png(tmp_path):
    src = data_path("ivif", "msrs", "ir", "00537D.png").read_bytes()
    (tmp_path / "trunc.png").write_bytes(src[: len(src) // 2])
    with pytest.raises(ImageReadError, match="truncated|corrupt|decode"):
        read_image(tmp_path / "trunc.png")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def test_decompression_bomb_header_refused(tmp_path):
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 0, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + _png_chunk(b"IEND", b"")
    (tmp_path / "bomb.png").write_bytes(data)
    with pytest.raises(ImageTooLargeError, match="exceeds the limit"):
        read_image(tmp_path / "bomb.png")


def test_pixel_limit_configurable(tmp_path):
    p = write_image(tmp_path / "a.png", np.zeros((30, 30), np.float32))
    set_max_pixels(100)
    try:
        with pytest.raises(ImageTooLargeError):
            read_image(p)
        assert read_image(p, max_pixels=1000)[0].shape == (30, 30)
    finally:
        set_max_pixels(None)


def test_nan_in_float_tiff(tmp_path):
    import tifffile

    a = np.zeros((10, 10), np.float32)
    a[2, 3] = np.nan
    tifffile.imwrite(tmp_path / "n.tif", a)
    with pytest.raises(InputError, match="NaN"):
        read_image(tmp_path / "n.tif")
    a[2, 3] = np.inf
    tifffile.imwrite(tmp_path / "i.tif", a)
    with pytest.raises(InputError, match="infinite"):
        read_image(tmp_path / "i.tif")


def test_write_refuses_input_and_is_atomic(tmp_path):
    p = write_image(tmp_path / "sub" / "dir" / "x.png", np.full((10, 10), 0.5, np.float32))
    before = p.read_bytes()
    with pytest.raises(OutputError, match="overwrite input"):
        write_image(p, np.zeros((10, 10), np.float32), protect=[p])
    assert p.read_bytes() == before
    assert sorted(f.name for f in p.parent.iterdir()) == ["x.png"]  # no temp files left
    with pytest.raises(InputError, match="NaN"):
        write_image(tmp_path / "bad.png", np.full((4, 4), np.nan, np.float32))
    assert not (tmp_path / "bad.png").exists()
    assert not [f for f in tmp_path.iterdir() if f.name.startswith(".bad")]


def test_write_clips_and_rounds(tmp_path):
    a = np.array([[-0.2, 0.0, 0.5, 1.0, 1.7, 0.2 / 255]], np.float32).repeat(8, 0)
    img, _ = read_image(write_image(tmp_path / "c.png", a))
    assert np.array_equal(np.rint(img[0] * 255), [0, 0, 128, 255, 255, 0])
