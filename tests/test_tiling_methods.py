"""Tile-exactness of every registered pansharpening method on a real scene, the seams, and the pansharpen CLI."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pixfuse.ops import gstats, seams
from pixfuse.tiling import TILE_EXACT, _call_method, pansharpen_array_tiled, tile_grid

GE1 = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "pansharpening" / "grip_unina_pnn" / "imgGE1.mat"


@pytest.fixture(scope="module")
def ge1():
    from scipy.io import loadmat

    if not GE1.exists():
        pytest.skip("shared data missing")
    d = loadmat(GE1)
    # 256x256 PAN / 64x64x4 MS crop: 2x2 tiles of 128 with 128-px (periodic) halos, so every tile touches the
    # scene border and holds seams; small enough for the 7-pass methods
    return d["I_PAN"][:256, :256].astype(np.float32), d["I_MS"][:64, :64].astype(np.float32)


def _methods() -> list[str]:
    from pixfuse.registry import method_specs

    return [s.name for s in method_specs("pansharpening")]


@pytest.mark.parametrize("name", sorted(TILE_EXACT))
def test_registered_method_tiled_equals_whole(ge1, name):
    from pixfuse.registry import get_method

    pan, ms = ge1
    spec = get_method(name)
    kw = {"sensor": "GeoEye1"} if "sensor" in spec.params else {}
    whole = _call_method(name, pan, ms, 4, kw)
    tiled, info = pansharpen_array_tiled(pan, ms, name, tile=128, return_info=True, **kw)
    assert info.tiles == 4 and info.tile_exact
    # everywhere, scene border included (periodic halos + seams); float32 output: ~6e-8 relative rounding
    rel = np.abs(tiled - whole).max() / float(whole.max() - whole.min())
    assert rel < 2e-7, rel


def test_tile_exact_covers_every_method():
    names = set(_methods())
    if not names:
        pytest.skip("no pansharpening methods")
    assert TILE_EXACT == names


def test_c_gsa_scene_kmeans_on_worldview3_mini():
    """C-GSA's k-means runs over the scene under tiling (sample by scene coordinates, one pass per Lloyd
    iteration): same clusters as whole-image processing, here on the 8-band WorldView-3 mini scene with 3x3 tiles
    of unequal size, another seed and cluster count."""
    from scipy.io import loadmat

    path = GE1.parents[1] / "zpnn_wv3" / "WV3_example.mat"
    if not path.exists():
        pytest.skip("shared data missing")
    d = loadmat(path)
    pan, ms = d["I_PAN"].astype(np.float32), d["I_MS_LR"].astype(np.float32)
    kw = {"segments": 3, "seed": 1}  # 21 Lloyd iterations on this scene
    # halo 64 covers c-gsa's supports (interp23tap ~33 px, LPfilterGauss 20 px) and keeps the ~25 passes quick
    whole = _call_method("c-gsa", pan, ms, 4, kw)
    tiled, info = pansharpen_array_tiled(pan, ms, "c-gsa", tile=48, halo=64, return_info=True, **kw)
    assert info.tiles == 9 and info.tile_exact and info.passes > 20  # 21 Lloyd iterations, one pass each
    rel = np.abs(tiled - whole).max() / float(whole.max() - whole.min())
    assert rel < 2e-7, rel
    # per-tile clustering (no scene statistics) differs: the check above is not vacuous
    with pytest.warns(UserWarning, match="not tile-exact"):
        local = pansharpen_array_tiled(pan, ms, "c-gsa", tile=48, halo=64, exact=False, **kw)
    assert np.abs(local - whole).max() / float(whole.max() - whole.min()) > 1e-3


def test_periodic_halo_is_needed(ge1):
    """Without periodic halos (clamped halos, the old scheme) the circular interp23tap border differs."""
    pan, ms = ge1
    whole = _call_method("mtf-glp-hpm", pan, ms, 4, {"sensor": "GeoEye1"})
    up = lambda im, ratio=4: _call_method("mtf-glp-hpm", im[0], im[1], ratio, {"sensor": "GeoEye1"})  # noqa: E731
    clamped = pansharpen_array_tiled(pan, ms, up, tile=128, halo=64)  # a callable without tile_periodic: clamped
    assert np.abs(clamped - whole).max() > 1.0
    up.tile_periodic = True
    wrapped = pansharpen_array_tiled(pan, ms, up, tile=128, halo=64)
    assert np.abs(wrapped - whole).max() < 1e-3


def test_grid_periodic_ext_and_seams():
    from pixfuse.tiling import _runs, _seams

    t = tile_grid(256, 384, 4, tile=128, halo=40, wrap=True)
    assert t[0].ext == (-40, 168, -40, 168) and t[-1].ext == (88, 296, 216, 424)
    assert _seams(-40, 168, 256) == (40,) and _seams(216, 424, 384) == (168,)
    assert _runs(-40, 168, 256) == [(216, 256), (0, 168)]
    # one tile along an axis: no wrap there (the tile is the whole axis, as whole-image processing)
    assert tile_grid(100, 400, 4, tile=200, halo=40, wrap=True)[0].ext == (0, 100, -40, 240)


def test_segmentwise_pads_at_seams():
    from pixfuse.ops.mtf import imfilter_replicate

    rng = np.random.default_rng(1)
    x = rng.random((24, 16))
    k = np.ones((5, 5)) / 25
    ctx = seams.SeamContext((24, 16), 4, row_seams=(8,), col_seams=())
    with seams.using(ctx):
        got = imfilter_replicate(x, k)
    want = np.concatenate([imfilter_replicate(x[:8], k), imfilter_replicate(x[8:], k)], axis=0)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(imfilter_replicate(x, k)[10:14], want[10:14])  # interior unchanged


def test_percentile_exact_under_tiling():
    rng = np.random.default_rng(3)
    ms = rng.gamma(2.0, 100.0, (40, 48, 2)).astype(np.float32)
    pan = np.repeat(np.repeat(ms.mean(axis=2), 4, 0), 4, 1)
    seen = {}

    def meth(images, *, ratio=4):
        p, m = images
        up = np.repeat(np.repeat(np.asarray(m, np.float64), ratio, 0), ratio, 1)
        q = gstats.percentile(up, 1.0)
        seen.setdefault("q", []).append(q)
        return up - q

    tiled = pansharpen_array_tiled(pan, ms, meth, tile=64, halo=8)
    up = np.repeat(np.repeat(ms.astype(np.float64), 4, 0), 4, 1)
    want = np.percentile(up.reshape(-1, 2), 1.0, axis=0, method="hazen")
    np.testing.assert_allclose(seen["q"][-1], want, rtol=0, atol=1e-9)
    np.testing.assert_allclose(tiled, up - want, atol=1e-3)


def test_pansharpen_cli_errors(tmp_path, cli):
    rasterio = pytest.importorskip("rasterio")
    from rasterio.transform import Affine

    def w(p, a, t, crs="EPSG:32633"):
        a = a if a.ndim == 3 else a[:, :, None]
        with rasterio.open(p, "w", driver="GTiff", width=a.shape[1], height=a.shape[0], count=a.shape[2],
                           dtype="uint16", crs=crs, transform=t) as ds:
            ds.write(np.moveaxis(a, -1, 0))
        return p

    pan = w(tmp_path / "p.tif", np.ones((64, 64), np.uint16), Affine(1, 0, 0, 0, -1, 64))
    ms = w(tmp_path / "m.tif", np.ones((16, 16, 4), np.uint16), Affine(4, 0, 0, 0, -4, 64), crs="EPSG:32634")
    names = _methods()
    if not names:
        pytest.skip("no pansharpening method registered")
    r = cli("pansharpen", pan, ms, "-o", tmp_path / "o.tif", "-m", names[0], "-q")
    assert r.returncode == 2 and "CRS mismatch" in r.stderr and "Traceback" not in r.stderr
    r = cli("pansharpen", pan, ms, "-o", pan, "-m", names[0], "--workers", "0")
    assert r.returncode == 2 and "--workers" in r.stderr


def test_geotiff_tiled_registered_method_equals_whole(tmp_path):
    """Windowed, periodic reads from files (FileSource) + uint16 11-bit output equal whole-image fusion."""
    pytest.importorskip("rasterio")
    from pixfuse.io.geotiff import read_geotiff
    from pixfuse.tiling import pansharpen_geotiff

    sample = GE1.parents[1] / "geotiff_sample"
    if not (sample / "pan.tif").exists():
        pytest.skip("shared data missing")
    out = tmp_path / "o.tif"
    info = pansharpen_geotiff(sample / "pan.tif", sample / "ms.tif", out, "mtf-glp-hpm", tile=400, sensor="generic")
    assert info.tiles == 4 and info.passes == 2
    pan, _ = read_geotiff(sample / "pan.tif")
    ms, _ = read_geotiff(sample / "ms.tif")
    whole = _call_method("mtf-glp-hpm", pan.astype(np.float32), ms.astype(np.float32), 4, {"sensor": "generic"})
    got, meta = read_geotiff(out)
    assert meta.bits == 11 and meta.crs.to_epsg() == 32649
    ref = np.clip(np.rint(whole), 0, 2047)
    diff = np.abs(got.astype(np.int64) - ref.astype(np.int64))
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-4  # rounding ties only, scene border included


def _halving_step(state, sums):
    t = int(state["t"])
    if t >= 5:
        return state, True
    return {"t": np.array(t + 1.0), "x": (state["x"] + sums["s"] / sums["n"]) / 2}, False


gstats.register_iteration("test.halving", _halving_step)


def _halving_method(images, ratio=4):
    """x <- (x + scene mean) / 2, five times from 0: one step per tiled pass through gstats.iterate."""
    pan = np.asarray(images[0], dtype=np.float64)
    rec = gstats.active()
    if rec is None:
        x = 0.0
        for _ in range(5):
            x = (x + pan.mean()) / 2
    else:
        def sums(r, state):
            core = r.core_of(pan)
            return {"s": np.array(core.sum()), "n": np.array(float(core.size))}

        state, _ = gstats.iterate("test.halving", {"t": np.array(0.0), "x": np.array(0.0)}, sums)
        x = float(state["x"])
    return np.full(pan.shape + (1,), x)


def test_gstats_iterate_one_step_per_pass():
    rng = np.random.default_rng(0)
    pan, ms = rng.random((96, 96)), rng.random((24, 24, 2))
    with pytest.raises(RuntimeError, match="tiled processing only"):
        gstats.iterate("test.halving", {"t": np.array(0.0)}, lambda r, s: {})
    out, info = pansharpen_array_tiled(pan, ms, _halving_method, tile=32, halo=8, return_info=True)
    expected = pan.mean() * (1 - 2.0 ** -5)
    assert info.tiles == 9 and info.passes >= 6  # five steps, each one pass, then the settled output pass
    np.testing.assert_allclose(out, expected, rtol=1e-6)  # float32 output
    np.testing.assert_allclose(_halving_method([pan, ms]), expected, rtol=1e-12)
