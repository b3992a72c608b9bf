"""GeoTIFF reading/writing, pair validation, nodata and tiled GeoTIFF pansharpening."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

rasterio = pytest.importorskip("rasterio")
from rasterio.crs import CRS  # noqa: E402
from rasterio.transform import Affine  # noqa: E402

from pixfuse.errors import ImageReadError, InputError, OutputError, ShapeMismatchError  # noqa: E402
from pixfuse.io.geotiff import (  # noqa: E402
    GeoTiffWriter, data_bits, open_pair, raster_info, read_geotiff, read_window, valid_range, write_geotiff)
from pixfuse.ops import gstats  # noqa: E402
from pixfuse.tiling import pansharpen_geotiff  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "pansharpening" / "geotiff_sample"
UTM = CRS.from_epsg(32649)


def toy(images, *, ratio=4):
    """Histogram-matched HPF with nearest upsampling (local filters + global statistics)."""
    pan, ms = images
    up = np.repeat(np.repeat(ms.astype(np.float64), ratio, 0), ratio, 1)
    up = ndimage.uniform_filter(up, size=(ratio + 1, ratio + 1, 1), mode="nearest")
    pan = pan.astype(np.float64)
    p = (pan - gstats.mean(pan)) / gstats.std(pan) * gstats.std(up[:, :, 0]) + gstats.mean(up[:, :, 0])
    return up + (p - ndimage.uniform_filter(p, 7, mode="nearest"))[:, :, None] * 1.5


def _write(path, arr, transform, crs=UTM, nodata=None, desc=None, nbits=None):
    a = arr if arr.ndim == 3 else arr[:, :, None]
    prof = dict(driver="GTiff", width=a.shape[1], height=a.shape[0], count=a.shape[2], dtype=a.dtype.name,
                crs=crs, transform=transform, nodata=nodata)
    if nbits:
        prof["NBITS"] = nbits
    with rasterio.open(path, "w", **prof) as ds:
        ds.write(np.moveaxis(a, -1, 0))
        for i, d in enumerate(desc or [], 1):
            ds.set_band_description(i, d)
    return path


@pytest.fixture()
def pair(tmp_path):
    rng = np.random.default_rng(1)
    ms = ndimage.gaussian_filter(rng.random((40, 48, 4)), (2, 2, 0))
    ms = (ms - ms.min()) / np.ptp(ms) * 1500 + 100
    pan = np.repeat(np.repeat(ms.mean(axis=2), 4, 0), 4, 1) + rng.normal(0, 30, (160, 192))
    pan = np.clip(pan, 0, 2047).astype(np.uint16)
    ms = ms.astype(np.uint16)
    tp = Affine(0.5, 0, 700000.0, 0, -0.5, 3800000.0)
    tm = Affine(2.0, 0, 700000.0, 0, -2.0, 3800000.0)
    p = _write(tmp_path / "pan.tif", pan, tp)
    m = _write(tmp_path / "ms.tif", ms, tm, desc=["blue", "green", "red", "nir"])
    return p, m, pan, ms


def test_metadata_round_trip_and_tile_exact(pair, tmp_path):
    p, m, pan, ms = pair
    out = tmp_path / "out" / "fused.tif"
    info = pansharpen_geotiff(p, m, out, toy, tile=64, halo=16)
    assert info.tiles == 9 and info.passes == 2 and info.statistics == 4
    with rasterio.open(out) as ds:
        assert ds.crs == UTM
        assert ds.transform == Affine(0.5, 0, 700000.0, 0, -0.5, 3800000.0)  # PAN grid
        assert (ds.width, ds.height, ds.count) == (192, 160, 4)
        assert ds.dtypes == ("uint16",) * 4
        assert ds.descriptions == ("blue", "green", "red", "nir")
        assert ds.tags(1, ns="IMAGE_STRUCTURE").get("NBITS") == "11"  # inferred: max <= 2047
        assert ds.tags()["PIXFUSE_METHOD"] == "toy"
        got = np.moveaxis(ds.read(), 0, -1)
    ref = np.clip(np.rint(toy([pan.astype(np.float32), ms.astype(np.float32)])), 0, 2047)
    assert got.max() <= 2047
    diff = np.abs(got.astype(np.int64) - ref.astype(np.int64))
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3  # equal up to rounding ties
    # the output's metadata is read back by our reader too
    ri = raster_info(out)
    assert ri.bits == 11 and ri.nbits_tag and ri.descriptions[3] == "nir"
    assert not list(out.parent.glob(".*part*"))  # no temporary file left


def test_read_window_and_whole(pair):
    p, m, pan, ms = pair
    np.testing.assert_array_equal(read_window(p, 10, 30, 5, 17), pan[10:30, 5:17])
    np.testing.assert_array_equal(read_window(m, 3, 9, 0, 48), ms[3:9])
    arr, info = read_geotiff(m)
    np.testing.assert_array_equal(arr, ms)
    assert info.count == 4 and info.dtype == "uint16" and info.bits == 16 and not info.nbits_tag
    with pytest.raises(InputError, match="outside"):
        read_window(p, 0, 161, 0, 10)


def test_write_geotiff_clips_to_bit_depth(pair, tmp_path):
    p, m, pan, ms = pair
    like = raster_info(p)
    vals = np.full((160, 192), 5000.7, np.float32)
    vals[0, 0] = -3
    out = write_geotiff(tmp_path / "w.tif", vals, like, bits=11, descriptions=["pan"])
    a, info = read_geotiff(out)
    assert a.dtype == np.uint16 and a.max() == 2047 and a[0, 0] == 0
    assert info.bits == 11 and info.descriptions == ("pan",) and info.transform == like.transform
    assert valid_range("uint16", 11) == (0.0, 2047.0) and valid_range("float32", None) is None
    assert data_bits(2047, "uint16") == 11 and data_bits(2048, "uint16") == 12 and data_bits(200, "uint8") == 8
    assert data_bits(90, "uint16") == 11 and data_bits(60000, "uint16") == 16 and data_bits(1.0, "float32") is None


def test_real_sample_pair():
    if not (DATA / "pan.tif").exists():
        pytest.skip("shared data not available")
    pr = open_pair(DATA / "pan.tif", DATA / "ms.tif")
    assert pr.ratio == 4 and pr.pan.crs.to_epsg() == 32649 and pr.ms.count == 4
    assert (pr.pan.width, pr.ms.width) == (800, 200)


def test_real_sample_tiled_equals_whole(tmp_path):
    if not (DATA / "pan.tif").exists():
        pytest.skip("shared data not available")
    out = tmp_path / "o.tif"
    pansharpen_geotiff(DATA / "pan.tif", DATA / "ms.tif", out, toy, tile=256, halo=16)
    pan, _ = read_geotiff(DATA / "pan.tif")
    ms, _ = read_geotiff(DATA / "ms.tif")
    got, info = read_geotiff(out)
    assert info.bits == 11 and info.crs.to_epsg() == 32649
    ref = np.clip(np.rint(toy([pan.astype(np.float32), ms.astype(np.float32)])), 0, 2047)
    assert np.abs(got.astype(np.int64) - ref).max() <= 1


def test_pair_validation_errors(pair, tmp_path):
    p, m, pan, ms = pair
    tm = Affine(2.0, 0, 700000.0, 0, -2.0, 3800000.0)
    # swapped inputs
    with pytest.raises(InputError, match="PAN .* has 4 bands"):
        open_pair(m, p)
    # CRS mismatch
    other = _write(tmp_path / "ms_wgs.tif", ms, tm, crs=CRS.from_epsg(32650))
    with pytest.raises(InputError, match="CRS mismatch.*EPSG:32649.*EPSG:32650"):
        open_pair(p, other)
    # non-integer size ratio
    odd = _write(tmp_path / "ms_odd.tif", ms[:, :45], Affine(192 * 0.5 / 45, 0, 700000.0, 0, -2.0, 3800000.0))
    with pytest.raises(ShapeMismatchError, match="not an integer"):
        open_pair(p, odd)
    # shifted footprint
    shifted = _write(tmp_path / "ms_shift.tif", ms, Affine(2.0, 0, 700010.0, 0, -2.0, 3800000.0))
    with pytest.raises(ShapeMismatchError, match="extents differ"):
        open_pair(p, shifted)
    # wrong band count when the sensor needs 8
    with pytest.raises(InputError, match="expected 8"):
        open_pair(p, m, ms_bands=8)
    # single-band MS
    one = _write(tmp_path / "ms1.tif", ms[:, :, 0], tm)
    with pytest.raises(InputError, match="at least 2"):
        open_pair(p, one)
    # pixel sizes inconsistent with the size ratio
    badres = _write(tmp_path / "ms_res.tif", ms, Affine(3.0, 0, 700000.0, 0, -3.0, 3800000.0))
    with pytest.raises(ShapeMismatchError, match="pixel sizes"):
        open_pair(p, badres)
    # missing / empty / non-raster files
    with pytest.raises(ImageReadError, match="no such file"):
        open_pair(tmp_path / "nope.tif", m)
    (tmp_path / "empty.tif").write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty"):
        open_pair(tmp_path / "empty.tif", m)
    (tmp_path / "junk.tif").write_bytes(b"not a tiff at all")
    with pytest.raises(ImageReadError, match="cannot open"):
        open_pair(tmp_path / "junk.tif", m)


def test_refuses_to_overwrite_inputs_and_existing(pair, tmp_path):
    p, m, pan, ms = pair
    before = p.read_bytes()
    with pytest.raises(OutputError, match="input"):
        pansharpen_geotiff(p, m, p, toy, overwrite=True)
    with pytest.raises(OutputError, match="input"):
        pansharpen_geotiff(p, m, p, toy)
    assert p.read_bytes() == before
    out = tmp_path / "exists.tif"
    out.write_bytes(b"x")
    with pytest.raises(OutputError, match="exists"):
        pansharpen_geotiff(p, m, out, toy)
    with pytest.raises(OutputError, match=r"\.tif"):
        GeoTiffWriter(tmp_path / "x.png", width=8, height=8, count=1, dtype="uint8")


def test_failure_leaves_no_partial_output(pair, tmp_path):
    p, m, pan, ms = pair
    calls = {"n": 0}

    def boom(images, *, ratio=4):
        calls["n"] += 1
        if calls["n"] > 2:
            raise RuntimeError("disk on fire")
        return toy(images, ratio=ratio)

    out = tmp_path / "o.tif"
    with pytest.raises(RuntimeError, match="disk on fire"):
        pansharpen_geotiff(p, m, out, boom, tile=64, halo=8)
    assert not out.exists()
    assert sorted(os.listdir(tmp_path)) == ["ms.tif", "pan.tif"]  # temporary file removed


def test_nodata_regions_written_as_nodata(tmp_path):
    rng = np.random.default_rng(2)
    ms = (ndimage.gaussian_filter(rng.random((32, 32, 3)), (2, 2, 0)) * 3000 + 500).astype(np.uint16)
    pan = np.repeat(np.repeat(ms.mean(axis=2), 4, 0), 4, 1).astype(np.uint16)
    ms[:6, :10] = 0  # nodata corner in the MS (all bands)
    ms[20, 20, 1] = 0  # a single band missing -> that pixel is invalid too
    pan[100:110, 60:64] = 0
    p = _write(tmp_path / "pan.tif", pan, Affine(1, 0, 0, 0, -1, 128), nodata=0)
    m = _write(tmp_path / "ms.tif", ms, Affine(4, 0, 0, 0, -4, 128), nodata=0, nbits=12)
    out = tmp_path / "o.tif"
    pansharpen_geotiff(p, m, out, toy, tile=48, halo=16)
    got, info = read_geotiff(out)
    assert info.nodata == 0 and info.bits == 12  # NBITS tag of the input is kept
    invalid = np.zeros((128, 128), bool)
    invalid[:24, :40] = True
    invalid[80:84, 80:84] = True
    invalid[100:110, 60:64] = True
    assert (got[invalid] == 0).all()
    assert (got[~invalid] > 0).all()  # valid pixels never take the nodata value


def test_valid_pixel_equal_to_nodata_is_nudged(tmp_path):
    ms = np.full((16, 16, 2), 7, np.uint16)
    pan = np.full((64, 64), 7, np.uint16)
    pan[0, 0] = 9  # nodata marker of the PAN
    p = _write(tmp_path / "pan.tif", pan, Affine(1, 0, 0, 0, -1, 64), nodata=9)
    m = _write(tmp_path / "ms.tif", ms, Affine(4, 0, 0, 0, -4, 64), nodata=7)  # every MS value is nodata!
    with pytest.raises(InputError, match="entirely nodata"):
        pansharpen_geotiff(p, m, tmp_path / "o.tif", toy)
    m2 = _write(tmp_path / "ms2.tif", ms, Affine(4, 0, 0, 0, -4, 64), nodata=None)

    def ident(images, *, ratio=4):
        return np.repeat(np.repeat(images[1], ratio, 0), ratio, 1) + 2.0  # = 9 everywhere

    got, info = read_geotiff(pansharpen_geotiff(p, m2, tmp_path / "o2.tif", ident).output)
    assert info.nodata == 9 and (got[0, 0] == 9).all()
    assert (got.reshape(-1, 2)[1:] == 10).all()  # valid 9s moved off the nodata value
