"""The multi-scale, sparse and medical methods (ivif_msd) on real IVIF and Harvard pairs.

Every method runs on a crop of a real pair of each IVIF subset (TNO, RoadScene,
MSRS, LLVIP, M3FD) and of Harvard CT-MRI / PET-MRI / SPECT-MRI; values are
checked (range, identity, chroma, pinned regression figures), not shapes only.
"""
from __future__ import annotations

import numpy as np
import pytest

import pixfuse
from pixfuse.errors import ParameterError
from pixfuse.io import read_image
from pixfuse.metrics.information import en as entropy  # Shannon entropy, 8-bit histogram
from pixfuse.ops.color import rgb_to_gray, rgb_to_ycbcr

from conftest import data_path

METHODS = [
    "rp", "cp", "grp", "mp",
    "dwt", "swt", "dtcwt", "cvt", "nsst", "msvd",
    "lp-sr", "rp-sr", "dwt-sr", "nsst-sr",
    "nsst-papcnn",
]
# tolerance of "identical sources give the source back"
IDENTITY_TOL = {"lp-sr": 2e-3, "rp-sr": 2e-3, "dwt-sr": 2e-3, "nsst-sr": 2e-3}
CROP = 64

IVIF = [("tno", "36.png"), ("roadscene", "FLIR_05164.jpg"), ("msrs", "00858N.png"),
        ("llvip", "190001.jpg"), ("m3fd", "M3FD_00471.png")]
HARVARD = [("CT-MRI", "CT"), ("PET-MRI", "PET"), ("SPECT-MRI", "SPECT")]


def _crop(a: np.ndarray, size: int = CROP) -> np.ndarray:
    h, w = a.shape[:2]
    y, x = (h - size) // 2, (w - size) // 2
    return np.ascontiguousarray(a[y : y + size, x : x + size])


def _grey(a: np.ndarray) -> np.ndarray:
    return rgb_to_gray(a) if a.ndim == 3 else a


_CACHE: dict = {}


def ivif_pair(subset: str, name: str):
    key = ("ivif", subset, name)
    if key not in _CACHE:
        ir, _ = read_image(data_path("ivif", subset, "ir", name))
        vi, _ = read_image(data_path("ivif", subset, "vi", name))
        _CACHE[key] = (_crop(_grey(ir)), _crop(vi))
    return _CACHE[key]


def harvard_pair(kind: str, func: str):
    key = ("harvard", kind)
    if key not in _CACHE:
        folder = data_path("medical", "harvard", kind, "MRI")
        name = sorted(p.name for p in folder.iterdir())[10]
        mri, _ = read_image(folder / name)
        other, _ = read_image(data_path("medical", "harvard", kind, func, name))
        _CACHE[key] = (_crop(_grey(mri), 96), _crop(other, 96))
    return _CACHE[key]


@pytest.mark.parametrize("method", METHODS)
def test_registered_with_citation_and_tasks(method):
    spec = pixfuse.registry.get_method(method)
    assert "ivif" in spec.tasks and "medical" in spec.tasks
    assert spec.color == "luminance" and len(spec.citation) > 40
    assert "References" in spec.func.__doc__


def test_all_methods_registered():
    names = {m["name"] for m in pixfuse.list_methods(task="medical")}
    assert set(METHODS) <= names


@pytest.mark.parametrize("method", METHODS)
def test_ivif_subsets(method):
    for subset, name in IVIF:
        ir, vi = ivif_pair(subset, name)
        f = pixfuse.fuse([ir, vi], method, task="ivif")
        assert f.shape == vi.shape and f.dtype == np.float32
        assert np.isfinite(f).all() and f.min() >= 0.0 and f.max() <= 1.0
        # the fusion carries information of both sources: closer to each than the other source is
        y = rgb_to_ycbcr(f)[:, :, 0] if f.ndim == 3 else f
        vy = rgb_to_ycbcr(vi)[:, :, 0] if vi.ndim == 3 else vi
        assert np.std(y) > 0.3 * min(np.std(ir), np.std(vy)), (method, subset)


@pytest.mark.parametrize("method", METHODS)
def test_harvard_medical_pairs_keep_functional_colour(method):
    for kind, func in HARVARD:
        mri, other = harvard_pair(kind, func)
        f = pixfuse.fuse([mri, other], method, task="medical")
        assert f.shape == other.shape and 0.0 <= f.min() and f.max() <= 1.0
        if other.ndim == 3:
            # chroma of the functional image survives (up to clipping of the RGB result)
            cf = rgb_to_ycbcr(f)[:, :, 1:]
            co = rgb_to_ycbcr(other)[:, :, 1:]
            free = ~((f <= 0) | (f >= 1)).any(axis=2)
            assert free.sum() > 500
            assert np.abs(cf - co)[free].max() < 1e-4, (method, kind)


@pytest.mark.parametrize("method", METHODS)
def test_identical_sources_and_determinism(method):
    ir, vi = ivif_pair("msrs", "00858N.png")
    same = pixfuse.fuse([ir, ir], method)
    if method == "grp":  # FSD pyramid: approximate inverse (Burt 1992)
        assert np.abs(same - ir).mean() < 0.01
    else:
        assert np.abs(same - ir).max() <= IDENTITY_TOL.get(method, 1e-4), method
    a = pixfuse.fuse([ir, vi], method)
    b = pixfuse.fuse([ir, vi], method)
    assert a.tobytes() == b.tobytes()


# mean, std, entropy of the fused luminance on the TNO "36" centre crop (64x64);
# computed once with this implementation -- a refactor that changes them must say why.
# Entropy is the project's EN metric (8-bit codes rint(x * 255) in float64); "mp" was re-pinned
# (6.168732 -> 6.224938, same fused image) when the test's float32 copy of it, which rounds the
# 533 exact .5 ties of mp's averaged codes to even, was dropped.
PINNED = {
    "rp": (0.591042, 0.113834, 6.056341),
    "cp": (0.514729, 0.119638, 6.172449),
    "grp": (0.524496, 0.105265, 5.852193),
    "mp": (0.539337, 0.121623, 6.224938),
    "dwt": (0.524590, 0.084431, 5.763764),
    "swt": (0.525030, 0.082357, 5.744864),
    "dtcwt": (0.524874, 0.100093, 5.805941),
    "cvt": (0.524733, 0.096665, 5.818510),
    "nsst": (0.524747, 0.096631, 5.807356),
    "msvd": (0.525031, 0.063926, 5.410330),
    "lp-sr": (0.520473, 0.107216, 5.845152),
    "rp-sr": (0.551614, 0.113397, 6.038427),
    "dwt-sr": (0.524637, 0.106706, 6.119161),
    "nsst-sr": (0.476037, 0.112165, 6.574101),
    "nsst-papcnn": (0.547963, 0.112403, 6.715397),
}


@pytest.mark.parametrize("method", METHODS)
def test_pinned_regression_values(method):
    ir, vi = ivif_pair("tno", "36.png")
    f = pixfuse.fuse([ir, _grey(vi)], method)
    got = (float(f.mean()), float(f.std()), entropy(f))
    if method not in PINNED:
        pytest.skip(f"no pinned values for {method}: {got}")
    np.testing.assert_allclose(got, PINNED[method], rtol=2e-3, atol=2e-4)


@pytest.mark.parametrize(
    "method,params,match",
    [
        ("rp", {"levels": 0}, "levels"),
        ("grp", {"window": 4}, "window"),
        ("grp", {"alpha": 1.5}, "alpha"),
        ("dwt", {"wavelet": "nope"}, "wavelet"),
        ("swt", {"window": 2}, "window"),
        ("dtcwt", {"levels": 0}, "levels"),
        ("cvt", {"angles": 10}, "angles"),
        ("nsst", {"dcomp": "3,x"}, "dcomp"),
        ("nsst", {"dcomp": "9"}, "dcomp"),
        ("msvd", {"levels": 0}, "levels"),
        ("lp-sr", {"stride": 0}, "stride"),
        ("nsst-sr", {"epsilon": -1}, "epsilon"),
        ("nsst-papcnn", {"iterations": 0}, "iterations"),
        ("mp", {"bogus": 1}, "bogus"),
    ],
)
def test_bad_parameters_raise(method, params, match):
    ir, vi = ivif_pair("tno", "36.png")
    with pytest.raises(ParameterError, match=match):
        pixfuse.fuse([ir, _grey(vi)], method, **params)


def test_papcnn_takes_two_sources_only():
    ir, vi = ivif_pair("tno", "36.png")
    with pytest.raises(pixfuse.errors.InputError, match="exactly 2"):
        pixfuse.fuse([ir, ir, ir], "nsst-papcnn")


@pytest.mark.parametrize("method", ["rp", "cp", "mp", "dwt", "dtcwt", "nsst"])
def test_three_sources(method):
    ir, vi = ivif_pair("tno", "36.png")
    g = _grey(vi)
    f = pixfuse.fuse([ir, g, 0.5 * (ir + g)], method)
    assert f.shape == ir.shape and np.isfinite(f).all()


def test_cli_runs_a_method(cli, tmp_path):
    a = data_path("ivif", "tno", "ir", "36.png")
    b = data_path("ivif", "tno", "vi", "36.png")
    out = tmp_path / "f.png"
    r = cli("fuse", str(a), str(b), "-m", "dtcwt", "-o", str(out))
    assert r.returncode == 0, r.stderr
    img, _ = read_image(out)
    assert img.shape[:2] == (270, 360)
