"""IVIF / medical edge-preserving, optimisation and colour methods on real pairs of every subset.

Crops of one real pair per IVIF subset (TNO, RoadScene, MSRS, LLVIP, M3FD) and of the Harvard
CT-MRI / PET-MRI / SPECT-MRI pairs; checks size, range, determinism, colour policy, the identity on
identical inputs where the fusion rule implies it, parameter errors and pinned regression values.
"""
from __future__ import annotations

import numpy as np
import pytest

import pixfuse
from pixfuse.errors import InputError, ParameterError, PixfuseError
from pixfuse.io import read_image
from pixfuse.ops.color import rgb_to_ycbcr

from conftest import data_path, run_cli

S = 80  # crop side
SMALL = {"latlrr": 48}  # whole-image latent LRR: hundreds of SVDs, so a smaller crop

# name: (folder parts of source 1, folder parts of source 2, file, crop origin (row, col))
PAIRS = {
    "tno": (("ivif", "tno", "ir"), ("ivif", "tno", "vi"), "17.png", (180, 240)),
    "roadscene": (("ivif", "roadscene", "ir"), ("ivif", "roadscene", "vi"), "FLIR_05164.jpg", (100, 200)),
    "msrs": (("ivif", "msrs", "ir"), ("ivif", "msrs", "vi"), "00858N.png", (200, 280)),
    "llvip": (("ivif", "llvip", "ir"), ("ivif", "llvip", "vi"), "190001.jpg", (500, 600)),
    "m3fd": (("ivif", "m3fd", "ir"), ("ivif", "m3fd", "vi"), "M3FD_00471.png", (300, 400)),
    "ct-mri": (("medical", "harvard_aanlib", "CT-MRI", "CT"), ("medical", "harvard_aanlib", "CT-MRI", "MRI"), "16012.png", (80, 80)),
    "pet-mri": (("medical", "harvard_aanlib", "PET-MRI", "MRI"), ("medical", "harvard_aanlib", "PET-MRI", "PET"), "25022.png", (80, 80)),
    "spect-mri": (("medical", "harvard_aanlib", "SPECT-MRI", "MRI"), ("medical", "harvard_aanlib", "SPECT-MRI", "SPECT"), "10020.png", (80, 80)),
}

METHODS = ("gff", "cbf", "adf", "fpde", "tif", "mgff", "hybrid-msd", "hmsd-gf", "gfce", "vsm-wls", "ifevip",
           "gtf", "latlrr", "mdlatlrr")
# fusion rules whose weights sum to one at every scale: identical sources come back unchanged
IDENTITY = ("gff", "cbf", "adf", "fpde", "tif", "mgff", "hybrid-msd", "vsm-wls", "gtf", "mdlatlrr")

_cache: dict[tuple[str, int], list[np.ndarray]] = {}


def load(name: str, side: int = S) -> list[np.ndarray]:
    if (name, side) not in _cache:
        a_parts, b_parts, fname, (r, c) = PAIRS[name]
        a, _ = read_image(data_path(*a_parts, fname))
        b, _ = read_image(data_path(*b_parts, fname))
        _cache[(name, side)] = [a[r : r + side, c : c + side].copy(), b[r : r + side, c : c + side].copy()]
    return _cache[(name, side)]


def _entropy(x: np.ndarray) -> float:
    q = np.clip(np.rint(x * 255), 0, 255).astype(np.int64)
    p = np.bincount(q.ravel(), minlength=256) / q.size
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def _summary(f: np.ndarray) -> tuple[float, float, float]:
    y = f if f.ndim == 2 else rgb_to_ycbcr(f)[:, :, 0]
    return float(y.mean()), float(y.std()), _entropy(y)


@pytest.mark.parametrize("method", METHODS)
def test_method_on_every_subset(method):
    spec = pixfuse.registry.get_method(method)
    assert "ivif" in spec.tasks and "medical" in spec.tasks
    assert spec.citation and "References" in spec.func.__doc__
    side = SMALL.get(method, S)
    for name in PAIRS:
        a, b = load(name, side)
        f = pixfuse.fuse([a, b], method)
        colour = a.ndim == 3 or b.ndim == 3
        assert f.shape == ((side, side, 3) if colour else (side, side)), (name, f.shape)
        assert f.dtype == np.float32 and np.isfinite(f).all()
        assert f.min() >= 0 and f.max() <= 1
        assert f.std() > 0.01, name  # not a flat image
        if colour:
            # luminance methods: the chroma of the colour source survives where nothing clipped
            src = b if b.ndim == 3 else a
            ok = (f > 0.002).all(2) & (f < 0.998).all(2)
            assert ok.mean() > 0.1, (name, ok.mean())
            d = np.abs(rgb_to_ycbcr(f)[:, :, 1:] - rgb_to_ycbcr(src)[:, :, 1:])[ok]
            assert d.max() < 1e-4, (name, d.max())


# mean, std and 8-bit entropy (bits) of the fused luminance on the TNO crop, pinned once
PINS = {
    "gff": (0.40779, 0.10828, 6.6461),
    "cbf": (0.41324, 0.17211, 6.8682),
    "adf": (0.41732, 0.12678, 6.7002),
    "fpde": (0.41775, 0.12437, 6.5951),
    "tif": (0.43194, 0.19517, 7.2570),
    "mgff": (0.42423, 0.19827, 7.3707),
    "hybrid-msd": (0.44957, 0.20273, 7.2522),
    "hmsd-gf": (0.47780, 0.24573, 7.1699),
    "gfce": (0.46060, 0.27749, 7.1145),
    "vsm-wls": (0.46765, 0.21993, 7.1375),
    "ifevip": (0.52711, 0.18171, 7.0241),
    "gtf": (0.43736, 0.27776, 5.9921),
    "latlrr": (0.62927, 0.17858, 6.2352),
    "mdlatlrr": (0.41780, 0.14263, 6.7385),
}


@pytest.mark.parametrize("method", METHODS)
def test_pinned_and_deterministic(method):
    a, b = load("tno", SMALL.get(method, S))
    f1 = pixfuse.fuse([a, b], method)
    f2 = pixfuse.fuse([a, b], method)
    assert f1.tobytes() == f2.tobytes()
    got = _summary(f1)
    want = PINS[method]
    assert np.allclose(got[:2], want[:2], atol=2e-4), (method, got)
    assert abs(got[2] - want[2]) < 0.02, (method, got)


@pytest.mark.parametrize("method", IDENTITY)
def test_identical_sources_give_the_source(method):
    a, b = load("msrs", SMALL.get(method, S))
    y = rgb_to_ycbcr(b)[:, :, 0] if b.ndim == 3 else b
    f = pixfuse.fuse([y, y], method)
    assert np.abs(f - y).max() < 2e-5, method


def test_hmsd_gf_identity_without_gain_and_brightening_with_it():
    a, _ = load("tno")
    f = pixfuse.fuse([a, a], "hmsd-gf", gain=255.0)
    assert np.abs(f - np.rint(a * 255) / 255).max() < 1.5 / 255
    g = pixfuse.fuse([a, a], "hmsd-gf")
    assert g.mean() > 1.03 * f.mean()


def test_gtf_transfers_visible_gradients_keeps_infrared_level():
    # IR: flat bright plate; VIS: dark image with fine texture -> F keeps IR's level and VIS's texture
    vis = np.tile(np.array([0.1, 0.3], np.float32), (64, 32))
    ir = np.full((64, 64), 0.7, np.float32)
    f = pixfuse.fuse([ir, vis], "gtf")
    assert abs(float(f.mean()) - (0.7 + (vis - vis.mean()).mean())) < 0.15
    assert np.allclose(np.diff(f, axis=1), np.diff(vis, axis=1), atol=0.02)


def test_fcdfusion_scales_visible_rgb():
    for name in ("tno", "roadscene", "msrs", "llvip", "m3fd"):
        a, b = load(name)
        f = pixfuse.fuse([a, b], "fcdfusion")
        assert f.shape == b.shape and f.dtype == np.float32 and 0 <= f.min() and f.max() <= 1, name
    a, b = load("msrs")
    f = pixfuse.fuse([a, b], "fcdfusion")
    assert f.tobytes() == pixfuse.fuse([a, b], "fcdfusion").tobytes()
    assert np.allclose(f.mean(axis=(0, 1)), [0.03539, 0.04765, 0.02649], atol=1e-4)  # pinned RGB means
    ok = (f < 0.999).all(2) & (b > 0.02).all(2)
    ratio = f[ok] / b[ok]
    assert np.abs(ratio - ratio.mean(axis=1, keepdims=True)).max() < 1e-4  # one factor per pixel: hue kept
    # analytic: IR = 0 halves the visible image, IR = 1 brightens it
    z = pixfuse.fuse([np.zeros_like(a), b], "fcdfusion")
    assert np.allclose(z, b / 2, atol=1e-6)
    v = np.full((8, 8, 3), 0.2, np.float32)
    one = pixfuse.fuse([np.ones((8, 8), np.float32), v], "fcdfusion")
    assert np.allclose(one, 0.2 * (0.5 + 1.2 / 0.4), atol=1e-6)
    grey = pixfuse.fuse([a, rgb_to_ycbcr(b)[:, :, 0]], "fcdfusion")
    assert grey.ndim == 2


@pytest.mark.parametrize(
    "method,params,exc",
    [
        ("gff", {"r1": 0}, ParameterError),
        ("gff", {"eps1": -1}, ParameterError),
        ("cbf", {"ksize": 4}, InputError),
        ("cbf", {"sigma_r": 0}, ParameterError),
        ("adf", {"option": 3}, ParameterError),
        ("fpde", {"n_iter": 0}, ParameterError),
        ("tif", {"median_size": 7}, ParameterError),
        ("tif", {"mean_size": 34}, InputError),
        ("mgff", {"levels": 0}, ParameterError),
        ("hybrid-msd", {"sigma_r": 0}, ParameterError),
        ("hmsd-gf", {"levels": 9}, ParameterError),
        ("gfce", {"gain": 0}, ParameterError),
        ("vsm-wls", {"lam": -0.1}, ParameterError),
        ("ifevip", {"quad_min_dim": 3}, ParameterError),
        ("ifevip", {"gauss_scale": 8}, InputError),
        ("gtf", {"lam": -1}, ParameterError),
        ("latlrr", {"lam": 0}, ParameterError),
        ("mdlatlrr", {"stride": 0}, ParameterError),
        ("fcdfusion", {"gamma": 0}, ParameterError),
        ("gff", {"bogus": 1}, ParameterError),
    ],
)
def test_bad_parameters(method, params, exc):
    a, b = load("tno", 32)
    with pytest.raises(exc) as e:
        pixfuse.fuse([a, b], method, **params)
    assert method.split("-")[0] in str(e.value) or list(params)[0] in str(e.value)


def test_two_input_methods_refuse_three():
    a, b = load("tno")
    for m in ("cbf", "mgff", "gtf", "mdlatlrr", "fcdfusion"):
        with pytest.raises(PixfuseError):
            pixfuse.fuse([a, b, a], m)
    # N-input rules accept three sources
    f = pixfuse.fuse([a, b, a], "gff")
    assert f.shape == a.shape


def test_mdlatlrr_projection_checksum(monkeypatch):
    from pixfuse.methods import optimization as opt

    lmat = opt.latlrr_projection()
    assert lmat.shape == (256, 256) and lmat.dtype == np.float32
    opt.latlrr_projection.cache_clear()
    monkeypatch.setattr(opt, "LATLRR_PROJECTION_SHA256", "0" * 64)
    with pytest.raises(PixfuseError, match="corrupt"):
        opt.latlrr_projection()
    opt.latlrr_projection.cache_clear()


def test_cli_fuses_with_a_method(tmp_path):
    ir = data_path("ivif", "tno", "ir", "36.png")
    vi = data_path("ivif", "tno", "vi", "36.png")
    out = tmp_path / "tif.png"
    r = run_cli("fuse", ir, vi, "-m", "tif", "-o", out, "-p", "mean_size=21")
    assert r.returncode == 0, r.stderr
    img, _ = read_image(out)
    a, _ = read_image(ir)
    b, _ = read_image(vi)
    assert np.abs(img - pixfuse.fuse([a, b], "tif", mean_size=21)).max() <= 0.5 / 255 + 1e-6
    r = run_cli("fuse", ir, vi, "-m", "cbf", "-o", tmp_path / "x.png", "-p", "ksize=4")
    assert r.returncode == 2 and "odd" in r.stderr and "Traceback" not in r.stderr
