"""Tile-exactness with the real pansharpening building blocks (interp23tap, sensor MTF) and the pansharpen CLI."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pixfuse.ops import gstats
from pixfuse.tiling import pansharpen_array_tiled

mtf = pytest.importorskip("pixfuse.ops.mtf")
resample = pytest.importorskip("pixfuse.ops.resample")
WV3 = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "pansharpening" / "zpnn_wv3" / "WV3_example.mat"
GE1 = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "pansharpening" / "grip_unina_pnn" / "imgGE1.mat"


def glp_hpm(images, *, ratio=4, sensor="none"):
    pan, ms = images
    pan = np.asarray(pan, dtype=np.float64)
    up = resample.interp23tap(np.asarray(ms, dtype=np.float64), ratio)
    p = (pan[:, :, None] - gstats.mean(pan)) * (gstats.std(up, axis=(0, 1)) / gstats.std(pan)) \
        + gstats.mean(up, axis=(0, 1))
    p_lp = resample.interp23tap(resample.decimate_nearest(mtf.mtf_filter(p, sensor, ratio), ratio), ratio)
    return up * p / (p_lp + 1e-12)


def _load(path, pan_key="I_PAN", ms_key="I_MS"):
    from scipy.io import loadmat

    if not path.exists():
        pytest.skip("shared data missing")
    d = loadmat(path)
    ms = d[ms_key] if ms_key in d else d["I_MS_LR"]
    return d[pan_key].astype(np.float32), ms.astype(np.float32)


def test_mtf_glp_hpm_tiled_equals_whole_ge1():
    pan, ms = _load(GE1)
    pan, ms = pan[:512, :512], ms[:128, :128]
    whole = glp_hpm([pan, ms], sensor="GeoEye1")
    tiled, info = pansharpen_array_tiled(pan, ms, glp_hpm, tile=128, return_info=True, sensor="GeoEye1")
    assert info.tiles == 16 and info.passes == 2 and info.statistics == 4
    inner = (slice(48, -48), slice(48, -48))
    rel = np.abs(tiled[inner] - whole[inner]).max() / whole.max()
    assert rel < 5e-4  # circular interp23tap borders (40 px band, 30 % of this crop) shift the statistics
    # interior of a local (statistics-free) chain: exact to float32 rounding
    local = lambda im, ratio=4, sensor="none": resample.interp23tap(  # noqa: E731
        resample.decimate_nearest(mtf.mtf_filter(np.repeat(np.asarray(im[0], float)[:, :, None], 4, 2), sensor,
                                                 ratio), ratio), ratio)
    w2 = local([pan, ms], sensor="GeoEye1")
    t2 = pansharpen_array_tiled(pan, ms, local, tile=128, sensor="GeoEye1")
    assert np.abs(t2 - w2)[inner].max() <= 1e-4 * w2.max()
    assert np.abs(t2 - w2).max() > 1.0  # but the scene border differs (documented)


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
    from pixfuse.registry import method_specs

    names = [s.name for s in method_specs("pansharpening")]
    if not names:
        pytest.skip("no pansharpening method registered")
    r = cli("pansharpen", pan, ms, "-o", tmp_path / "o.tif", "-m", names[0], "-q")
    assert r.returncode == 2 and "CRS mismatch" in r.stderr and "Traceback" not in r.stderr
    r = cli("pansharpen", pan, ms, "-o", pan, "-m", names[0], "--workers", "0")
    assert r.returncode == 2 and "--workers" in r.stderr


@pytest.mark.parametrize("name", ["brovey-gdal", "bt", "mtf-glp"])
def test_registered_methods_tile_exact(name):
    from pixfuse.registry import get_method
    from pixfuse.tiling import TILE_EXACT, _call_method

    try:
        spec = get_method(name)
    except Exception:
        pytest.skip(f"{name} not registered")
    assert name in TILE_EXACT
    pan, ms = _load(GE1)
    pan, ms = pan[:384, :384], ms[:96, :96]
    kw = {"sensor": "GeoEye1"} if "sensor" in spec.params else {}
    whole = _call_method(name, pan, ms, 4, kw)
    tiled = pansharpen_array_tiled(pan, ms, name, tile=128, **kw)
    inner = (slice(64, -64), slice(64, -64))
    assert np.abs(tiled - whole)[inner].max() <= 1e-3 * np.abs(whole).max()
