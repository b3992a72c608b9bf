"""Stack methods that follow their papers' reference code: dsift-mff, quadtree, demef.

Literal (loop) transliterations of the authors' MATLAB functions on small crops check the vectorised
implementations; pinned values on real data guard against regressions.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest

import pixfuse
from conftest import focus_pair
from pixfuse.errors import ParameterError
from pixfuse.methods import focus as FM
from pixfuse.ops.dsift import dense_sift, normalise_sift


def _pair(stem: str, scale: float = 1.0) -> list[np.ndarray]:
    return focus_pair(stem, "lytro", scale)


# ------------------------------------------------------------------------------------------- dsift-mff

def _sf_literal(a: np.ndarray) -> float:
    m, n = a.shape
    dc = a[1:] - a[:-1]
    dr = a[:, 1:] - a[:, :-1]
    return float(np.sqrt((dc ** 2).sum() / (m * n) + (dr ** 2).sum() / (m * n)))


def test_window_sf_equals_sf_m() -> None:
    g = np.random.default_rng(0).random((20, 23))
    S = FM._window_sf(g, 3)
    for j in range(3, 17):
        for i in range(3, 20):
            assert S[j, i] == pytest.approx(_sf_literal(g[j - 3:j + 4, i - 3:i + 4]), abs=1e-12)
    assert S[:3].max() == 0 and S[:, -3:].max() == 0


def _dsift_pair_literal(g1, g2, scale, block, thr, area, r=3):
    """Loop transliteration of generate_initmap.m + refine_withmatching.m (0-based)."""
    patch = scale // 2
    d1 = dense_sift(g1, patch, n_bins=4, sample_shift=patch / 2)
    d2 = dense_sift(g2, patch, n_bins=4, sample_shift=patch / 2)
    s1, s2 = d1.sum(2, dtype=np.float64), d2.sum(2, dtype=np.float64)
    h, w = s1.shape
    sc1, sc2, cnt = np.zeros((h, w)), np.zeros((h, w)), np.zeros((h, w))
    for yy in range(h - block + 1):
        for xx in range(w - block + 1):
            a = s1[yy:yy + block, xx:xx + block].sum()
            b = s2[yy:yy + block, xx:xx + block].sum()
            if a > b:
                sc1[yy:yy + block, xx:xx + block] += 1
            if b > a:
                sc2[yy:yy + block, xx:xx + block] += 1
            cnt[yy:yy + block, xx:xx + block] += 1
    cnt[cnt < 1] = 1
    maps = []
    for sc in (sc1, sc2):
        m = FM._area_open(sc / cnt > thr, area)
        maps.append(~FM._area_open(~m, area))
    fmap = maps[0] * 1.0 + 0.5 * (1 - maps[0] - maps[1])
    n1, n2 = normalise_sift(d1), normalise_sift(d2)
    for j in range(r, h - r):
        for i in range(r, w - r):
            if fmap[j, i] != 0.5:
                continue
            dis1 = ((n2[j - r:j + r + 1, i - r:i + r + 1] - n1[j, i]) ** 2).sum(2)
            dis2 = ((n1[j - r:j + r + 1, i - r:i + r + 1] - n2[j, i]) ** 2).sum(2)
            k1 = np.flatnonzero((dis1 == dis1.min()).T.ravel())[0]     # MATLAB find: column-major
            k2 = np.flatnonzero((dis2 == dis2.min()).T.ravel())[0]
            p12 = (j - r + k1 % (2 * r + 1), i - r + k1 // (2 * r + 1))
            p21 = (j - r + k2 % (2 * r + 1), i - r + k2 // (2 * r + 1))
            if not all(r <= p[0] < h - r and r <= p[1] < w - r for p in (p12, p21)):
                continue
            f1 = _sf_literal(g1[j - r:j + r + 1, i - r:i + r + 1])
            f12 = _sf_literal(g2[p12[0] - r:p12[0] + r + 1, p12[1] - r:p12[1] + r + 1])
            f2 = _sf_literal(g2[j - r:j + r + 1, i - r:i + r + 1])
            f21 = _sf_literal(g1[p21[0] - r:p21[0] + r + 1, p21[1] - r:p21[1] + r + 1])
            if f1 > f12 and f2 < f21:
                fmap[j, i] = 1
            if f1 < f12 and f2 > f21:
                fmap[j, i] = 0
    return fmap


def test_dsift_pair_equals_literal_reference_loops() -> None:
    a, b = (FM._mgray(im)[150:246, 150:246] for im in _pair("lytro_01"))
    ours = FM._dsift_pair(a, b, 48, 8, True, 0.99, 400, 3)
    ref = _dsift_pair_literal(a, b, 48, 8, 0.99, 400)
    assert (ref == 0.5).sum() > 100 and (ref == 1).sum() > 100 and (ref == 0).sum() > 100
    # the SF comparisons may flip where two windows' SF agree to rounding; allow a handful of pixels
    assert (ours != ref).sum() <= 3, int((ours != ref).sum())


def test_dsift_mff_matching_decides_the_boundary_band() -> None:
    imgs = _pair("lytro_05", scale=0.5)
    g = [FM._mgray(im) for im in imgs]
    no_match = FM._dsift_pair(g[0], g[1], 48, 8, False, 0.99, 900, 3)
    match = FM._dsift_pair(g[0], g[1], 48, 8, True, 0.99, 900, 3)
    band = (no_match != match)
    assert band.any() and set(np.unique(match)) <= {0.0, 0.5, 1.0}
    # without matching every interior pixel is decided; with matching, ambiguous ones stay 0.5 (averaged)
    assert (no_match[3:-3, 3:-3] == 0.5).sum() == 0
    assert (match == 0.5).sum() > 0


def test_dsift_mff_pinned_lytro01_and_series_merge() -> None:
    imgs = _pair("lytro_01")                                   # full 520x520 pair, defaults
    fused, maps = pixfuse.fuse(imgs, "dsift-mff", return_maps=True)
    q = pixfuse.evaluate(fused, imgs, ["qabf"])["qabf"]
    assert q == pytest.approx(PINNED_DSIFT_LYTRO01, abs=2e-3)
    assert (maps["depth"] == 1).mean() == pytest.approx(PINNED_DSIFT_LYTRO01_FRAC_B, abs=0.005)
    # three frames = the pair fused, then the result fused with the third frame (authors' README);
    small = [im[150:310, 150:310] for im in imgs]
    third = cv2.GaussianBlur(small[0], (0, 0), 1.0)
    f2, m2 = pixfuse.fuse(small, "dsift-mff", area=400, return_maps=True)
    f3, m3 = pixfuse.fuse(small + [third], "dsift-mff", return_maps=True, area=400)
    assert np.abs(f3 - pixfuse.fuse([f2, third], "dsift-mff", area=400)).max() < 1e-5
    # the depth map is the arg-max of the chained weights: wherever the third frame does not win, the pair's
    # depth is kept; the blurred copy of frame 0 wins only a small part (measured 0.1038)
    d2, d3 = m2["depth"], m3["depth"]
    assert np.array_equal(d3[d3 != 2], d2[d3 != 2])
    assert (d3 == 2).mean() == pytest.approx(0.1038, abs=0.01)


PINNED_DSIFT_LYTRO01 = 0.74925            # before (window-sum activity + guided filter): 0.7493
PINNED_DSIFT_LYTRO01_FRAC_B = 0.6459


@pytest.mark.parametrize("kw", [{"scale": 20}, {"scale": 8}, {"block": 0}, {"threshold": 0.3}, {"area": -1}])
def test_dsift_mff_bad_params(kw: dict) -> None:
    im = _pair("lytro_01", scale=0.25)
    with pytest.raises(ParameterError, match="scale|block|threshold|area"):
        pixfuse.fuse(im, "dsift-mff", **kw)


# ------------------------------------------------------------------------------------------- quadtree

def _wml_literal(g: np.ndarray, T: float = 5.0, bsz: int = 17) -> np.ndarray:
    """ML.m + Local_Weight.m with explicit symmetric padding and loops."""
    p = np.pad(g, 1, mode="symmetric")
    h, w = g.shape
    ml = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            c = p[y + 1, x + 1]
            ml[y, x] = abs(2 * c - p[y, x + 1] - p[y + 2, x + 1]) + abs(2 * c - p[y + 1, x] - p[y + 1, x + 2])
    ml[ml < T] = 0
    r = bsz // 2
    H = np.array([[1 / (np.hypot(i - r, j - r) + 1) for j in range(bsz)] for i in range(bsz)])
    q = np.pad(ml, r, mode="symmetric")
    return np.array([[(q[y:y + bsz, x:x + bsz] * H).sum() for x in range(w)] for y in range(h)])


def test_weighted_modified_laplacian_equals_wml_m() -> None:
    g = np.round(np.random.default_rng(1).random((24, 21)) * 12) * 1.0
    ours = FM.weighted_modified_laplacian(g, 1, 5.0, 17)
    assert np.abs(ours - _wml_literal(g)).max() < 1e-9
    assert FM.weighted_modified_laplacian(np.zeros((8, 8)) + 7).max() == 0


def _quad_decomp_literal(G: np.ndarray, ratio: float) -> np.ndarray:
    """quad_decomp.m + decomp_strategy.m, block by block (0-based labels, -1 = tie)."""
    n, D, _ = G.shape
    mx, mn = G.max(0), G.min(0)
    maxlevel = int(np.log2(D))
    blocks = [(0, 0, D)]
    leaves = []
    level = 1
    while level < maxlevel and blocks:
        nxt = []
        for (y, x, d) in blocks:
            s = [G[k, y:y + d, x:x + d].sum() for k in range(n)]
            mdfm = abs(min(s) - max(s))
            smdg = abs(mx[y:y + d, x:x + d].sum() - mn[y:y + d, x:x + d].sum())
            if mdfm > 0 and mdfm < ratio * smdg:
                h2 = d // 2
                nxt += [(y, x, h2), (y + h2, x, h2), (y, x + h2, h2), (y + h2, x + h2, h2)]
            else:
                leaves.append((y, x, d))
        blocks = nxt
        level += 1
    leaves += blocks
    lab = np.zeros((D, D), np.int32)
    for (y, x, d) in leaves:
        s = np.array([G[k, y:y + d, x:x + d].sum() for k in range(n)])
        top = np.flatnonzero(s == s.max())
        lab[y:y + d, x:x + d] = top[0] if top.size == 1 else -1
    return lab


@pytest.mark.parametrize("n", [2, 3])
def test_quadtree_decomposition_equals_quad_decomp_m(n: int) -> None:
    rng = np.random.default_rng(n)
    D = 64
    G = np.zeros((n, D, D))
    # frame k is "sharp" in a disc of its own, plus noise; a zero border as the code's centring pads
    yy, xx = np.mgrid[:D, :D]
    for k in range(n):
        cy, cx = 20 + 12 * k, 24 + 9 * k
        G[k, 4:60, 4:60] = (rng.random((56, 56)) + 3.0 * ((yy - cy) ** 2 + (xx - cx) ** 2 < 200)[4:60, 4:60])
    ours = FM._quadtree_labels(G, 0.98)
    ref = _quad_decomp_literal(G, 0.98)
    assert np.array_equal(ours, ref)
    assert len(np.unique(ref)) == n + 1                      # all frames and the tied (zero) padding


def test_quadtree_pinned_lytro01() -> None:
    imgs = _pair("lytro_01")
    fused, maps = pixfuse.fuse(imgs, "quadtree", return_maps=True)
    q = pixfuse.evaluate(fused, imgs, ["qabf"])["qabf"]
    assert q == pytest.approx(PINNED_QT_LYTRO01, abs=2e-3)
    assert (maps["depth"] == 1).mean() == pytest.approx(PINNED_QT_LYTRO01_FRAC_B, abs=0.005)
    # hard decisions: every output pixel is one of the frames (or their mean where the focus measures tie)
    d = np.minimum(np.abs(fused - imgs[0]), np.abs(fused - imgs[1])).max(axis=-1)
    mean_px = np.abs(fused - (imgs[0] + imgs[1]) / 2).max(axis=-1)
    assert (np.minimum(d, mean_px) < 1e-6).all()


PINNED_QT_LYTRO01 = 0.74520     # before (SML + purity split + guided filter): 0.7500
PINNED_QT_LYTRO01_FRAC_B = 0.6135


@pytest.mark.parametrize("kw", [{"ratio": 1.5}, {"window": 0}, {"threshold": -1}, {"min_region": 0.9},
                                {"purity": 0.9}])
def test_quadtree_bad_params(kw: dict) -> None:
    im = _pair("lytro_01", scale=0.25)
    with pytest.raises(ParameterError, match="ratio|window|threshold|min_region|purity"):
        pixfuse.fuse(im, "quadtree", **kw)
