"""Tile-wise processing equals whole-image processing (toy methods; real methods in test_tiling_methods.py)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from pixfuse.errors import InputError
from pixfuse.ops import gstats
from pixfuse.tiling import pansharpen_array_tiled, tile_grid


def _upsample(ms: np.ndarray, r: int) -> np.ndarray:
    up = np.repeat(np.repeat(ms.astype(np.float64), r, axis=0), r, axis=1)
    return ndimage.uniform_filter(up, size=(r + 1, r + 1, 1), mode="nearest")


def toy_local(images, *, ratio=4):
    """HPF-like: upsampled MS + PAN detail (purely local, replicate borders)."""
    pan, ms = images
    up = _upsample(ms, ratio)
    pan = pan.astype(np.float64)
    detail = pan - ndimage.uniform_filter(pan, 9, mode="nearest")
    return up + detail[:, :, None]


def toy_global(images, *, ratio=4):
    """Histogram-matched detail injection with a chained statistic (exercises multi-pass)."""
    pan, ms = images
    up = _upsample(ms, ratio)
    pan = pan.astype(np.float64)
    mp, sp = gstats.mean(pan), gstats.std(pan)
    mu, su = gstats.mean(up, axis=(0, 1)), gstats.std(up, axis=(0, 1))
    matched = (pan[:, :, None] - mp) * (su / sp) + mu
    det = matched - ndimage.uniform_filter(matched, size=(9, 9, 1), mode="nearest")
    fused = up + det
    g = gstats.mean(up, axis=(0, 1)) / gstats.mean(fused, axis=(0, 1))  # depends on the first statistics
    c = gstats.lstsq(np.dstack([up[:, :, 0], np.ones(pan.shape)]), pan)
    return fused * g + 1e-3 * (c[0] * up[:, :, :1] + c[1]) + 0 * gstats.amin(pan) + 0 * gstats.amax(up, axis=(0, 1))


@pytest.fixture(scope="module")
def scene():
    rng = np.random.default_rng(0)
    ms = ndimage.gaussian_filter(rng.random((50, 60, 3)), (2, 2, 0)) * 1000 + 200
    pan = np.repeat(np.repeat(ms.mean(axis=2), 4, 0), 4, 1) + rng.normal(0, 20, (200, 240))
    return pan.astype(np.float32), ms.astype(np.float32)


def test_grid_covers_scene_once():
    tiles = tile_grid(200, 240, 4, tile=70, halo=10)
    cover = np.zeros((200, 240), int)
    for t in tiles:
        r0, r1, c0, c1 = t.core
        assert r0 % 4 == 0 and c0 % 4 == 0
        cover[r0:r1, c0:c1] += 1
        e0, e1, f0, f1 = t.ext
        assert e0 == max(0, r0 - 12) and f1 == min(240, c1 + 12)  # halo rounded up to 12
    assert (cover == 1).all()
    assert len(tiles) == 3 * 4  # tile 70 -> 72


def test_local_method_tile_exact(scene):
    pan, ms = scene
    whole = toy_local([pan, ms])
    tiled, info = pansharpen_array_tiled(pan, ms, toy_local, tile=64, halo=16, return_info=True)
    assert info.tiles == 16 and info.passes == 1 and info.statistics == 0
    np.testing.assert_allclose(tiled, whole, rtol=0, atol=1e-3)  # float32 output of values ~1e3
    # too small a halo breaks exactness: the check above is not vacuous
    bad = pansharpen_array_tiled(pan, ms, toy_local, tile=64, halo=0)
    assert np.abs(bad - whole).max() > 1.0


def test_global_statistics_two_pass_exact(scene):
    pan, ms = scene
    whole = toy_global([pan, ms])
    tiled, info = pansharpen_array_tiled(pan, ms, toy_global, tile=64, halo=16, return_info=True)
    assert info.statistics == 9  # one per gstats call
    assert info.passes == 4  # statistics, output + re-collect (a chained stat changed), statistics (settled), output
    np.testing.assert_allclose(tiled, whole, rtol=1e-6, atol=1e-3)
    # per-tile statistics (exact=False) differ visibly
    with pytest.warns(UserWarning):
        loose = pansharpen_array_tiled(pan, ms, toy_global, tile=64, halo=16, exact=False)
    assert np.abs(loose - whole).max() > 1.0


def test_gstats_match_numpy_outside_tiles(scene):
    pan, ms = scene
    x = pan.astype(np.float64)
    assert gstats.mean(x) == pytest.approx(x.mean(), rel=1e-12)
    assert gstats.std(x) == pytest.approx(x.std(ddof=1), rel=1e-12)
    assert gstats.cov(x, 2 * x) == pytest.approx(2 * x.var(ddof=1), rel=1e-9)
    np.testing.assert_allclose(gstats.mean(ms, axis=(0, 1)), ms.astype(np.float64).mean(axis=(0, 1)), rtol=1e-12)


def test_dask_two_workers_equals_serial(scene):
    pytest.importorskip("distributed")
    pan, ms = scene
    serial = pansharpen_array_tiled(pan, ms, toy_global, tile=100, halo=16)
    par = pansharpen_array_tiled(pan, ms, toy_global, tile=100, halo=16, workers=2)
    np.testing.assert_array_equal(serial, par)  # deterministic merge order


def test_bad_arrays():
    with pytest.raises(InputError, match="not an integer"):
        pansharpen_array_tiled(np.zeros((100, 100)), np.zeros((30, 30, 4)), toy_local)
    with pytest.raises(InputError, match="B >= 2"):
        pansharpen_array_tiled(np.zeros((100, 100)), np.zeros((25, 25)), toy_local)
