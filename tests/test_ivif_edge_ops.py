"""Building blocks of the IVIF edge-preserving / optimisation methods: analytic cases."""
from __future__ import annotations

import numpy as np
import pytest

from pixfuse.ops.bilateral import bilateral_grid, cross_bilateral_filter, rolling_guidance_guided
from pixfuse.ops.diffusion import anisotropic_diffusion, fourth_order_pde
from pixfuse.ops.imfilter import box_blur, gaussian_blur, imfilter, medfilt2
from pixfuse.ops.lowrank import latent_lrr, svt
from pixfuse.ops.saliency import histogram_saliency, mean_median_saliency, perceptual_saliency
from pixfuse.ops.tv import div, grad, total_variation, tv_l1

RNG = np.random.default_rng(7)


def test_imfilter_borders_match_matlab_conventions():
    a = np.arange(5, dtype=np.float64)[None, :].repeat(3, 0)
    k = np.array([[1.0, 0.0, 0.0]])  # picks the left neighbour
    assert np.allclose(imfilter(a, k, "symmetric")[0], [0, 0, 1, 2, 3])
    assert np.allclose(imfilter(a, k, "replicate")[0], [0, 0, 1, 2, 3])
    assert np.allclose(imfilter(a, k, "circular")[0], [4, 0, 1, 2, 3])
    assert np.allclose(imfilter(a, k, "reflect101")[0], [1, 0, 1, 2, 3])
    assert np.allclose(imfilter(a, k, "zero")[0], [0, 0, 1, 2, 3])
    k2 = np.array([[0.0, 0.0, 1.0]])  # right neighbour
    assert np.allclose(imfilter(a, k2, "symmetric")[0], [1, 2, 3, 4, 4])
    assert np.allclose(imfilter(a, k2, "zero")[0], [1, 2, 3, 4, 0])
    with pytest.raises(ValueError):
        imfilter(a, np.ones((2, 2)))


def test_box_and_gaussian_keep_constants_and_mean():
    c = np.full((20, 30), 0.3)
    for border in ("symmetric", "replicate", "circular", "reflect101"):
        assert np.allclose(box_blur(c, 7, border), 0.3)
        assert np.allclose(gaussian_blur(c, 2.0, 13, border), 0.3)
    x = RNG.random((16, 16))
    assert np.isclose(box_blur(x, 35, "circular").mean(), x.mean())  # circular mean filter preserves the mean


def test_medfilt2_zero_border():
    a = np.ones((5, 5), np.float32)
    m = medfilt2(a, 3)
    assert m[2, 2] == 1 and m[0, 0] == 0  # corner: 4 ones, 5 zeros -> 0 (MATLAB medfilt2 pads with 0)
    assert m[0, 2] == 1  # edge: 6 ones, 3 zeros


def test_cross_bilateral_limits():
    x = RNG.random((24, 24))
    # huge range sigma: plain Gaussian-weighted mean over the window
    out = cross_bilateral_filter(x, x, 1.8, 1e6, 11)
    g = gaussian_blur(x, 1.8, 11, "reflect101")
    assert np.abs(out - g).max() < 1e-5
    # tiny range sigma with a two-level guide: no mixing across the guide edge
    guide = np.zeros((24, 24))
    guide[:, 12:] = 1.0
    src = guide * 5.0 + 1.0
    out = cross_bilateral_filter(src, guide, 3.0, 1e-3, 7)
    assert np.allclose(out, src, atol=1e-5)


def test_bilateral_grid_constant_and_step():
    assert np.allclose(bilateral_grid(np.full((30, 40), 0.25), 4.0, 0.1), 0.25)
    step = np.zeros((40, 40))
    step[:, 20:] = 1.0
    out = bilateral_grid(step, 4.0, 0.05)
    # the edge survives: each side stays at its level
    assert np.abs(out[:, :18]).max() < 1e-6 and np.abs(out[:, 22:] - 1).max() < 1e-6


def test_rolling_guidance_constant():
    assert np.allclose(rolling_guidance_guided(np.full((32, 32), 0.6, np.float32), 2.0, 0.05, 4), 0.6, atol=1e-5)


def test_diffusions_keep_constants_and_ramps():
    c = np.full((20, 20), 100.0)
    # zero extension (reference code) pulls the border down, the centre stays
    ad = anisotropic_diffusion(c, 10, 0.15, 30.0, 1)
    assert np.allclose(ad[5:-5, 5:-5], 100.0)
    ramp = np.add.outer(np.arange(20.0), 2 * np.arange(20.0))
    assert np.allclose(fourth_order_pde(ramp, 15, 0.9, 4.0), ramp)
    # fourth-order smoothing reduces a spike
    s = np.zeros((21, 21))
    s[10, 10] = 50.0
    out = fourth_order_pde(s, 5, 0.1, 4.0)
    assert out[10, 10] < 50.0 and np.isclose(out.sum(), s.sum(), rtol=1e-6, atol=1e-6)


def test_svt_and_latent_lrr_constraint():
    a = RNG.random((12, 9))
    assert np.allclose(svt(a, 1e9), 0)
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    assert np.allclose(svt(a, 0.1), (u * np.maximum(s - 0.1, 0)) @ vt)
    x = RNG.random((10, 3)) @ RNG.random((3, 14))
    z, lmat, e = latent_lrr(x, 0.8)
    assert np.abs(x - x @ z - lmat @ x - e).max() < 1e-5


def test_tv_l1_removes_small_keeps_large():
    f = np.zeros((64, 64))
    f[10:13, 10:13] = 1.0  # 3x3 square: area/perimeter 0.75 < lam/2
    f[30:60, 30:60] = 1.0  # 30x30 square: 7.5 > lam/2
    u = tv_l1(f, 4.0, n_iter=300, tol=0)
    assert np.abs(u[10:13, 10:13]).max() < 0.05
    assert np.abs(u[35:55, 35:55] - 1).max() < 0.05
    assert tv_l1(f, 0.0) is not f and np.array_equal(tv_l1(f, 0.0), f)
    # adjointness of grad / div
    p, q, v = RNG.random((3, 8, 9))
    gx, gy = grad(v)
    assert np.isclose((gx * p).sum() + (gy * q).sum(), -(v * div(p, q)).sum())
    assert np.isclose(total_variation(np.ones((5, 5))), 0.0)


def test_saliency_maps():
    img = np.zeros((10, 10))
    img[:2] = 1.0  # 20 bright pixels among 80 dark: the rare level is the salient one
    s = histogram_saliency(img)
    assert np.allclose(s[:2], 1) and np.allclose(s[2:], 0)
    assert np.allclose(histogram_saliency(np.full((5, 5), 0.4)), 0)
    assert np.allclose(mean_median_saliency(np.full((40, 40), 0.5))[2:-2, 2:-2], 0)
    x = RNG.random((90, 90)) * 255
    assert perceptual_saliency(x) > perceptual_saliency(gaussian_blur(x, 3.0, 19, "symmetric")) > 0


def _bilateral_grid_loops(img, ss, sr):
    """Cell-by-cell transcription of Paris & Durand's fast_LBF (early_division = false)."""
    h, w = img.shape
    pad = 2
    lo = img.min()
    gx, gy = int((w - 1) / ss) + 1 + 2 * pad, int((h - 1) / ss) + 1 + 2 * pad
    gz = int((img.max() - lo) / sr) + 1 + 2 * pad
    data = np.zeros((gx, gy, gz, 2))
    for x in range(w):
        for y in range(h):
            cell = (int(x / ss + 0.5) + pad, int(y / ss + 0.5) + pad, int((img[y, x] - lo) / sr + 0.5) + pad)
            data[cell] += (img[y, x], 1.0)
    for dim in range(3):
        for _ in range(2):
            buf = data.copy()
            for i in range(1, data.shape[0] - 1):
                for j in range(1, data.shape[1] - 1):
                    for k in range(1, data.shape[2] - 1):
                        o = [0, 0, 0]
                        o[dim] = 1
                        data[i, j, k] = (buf[i - o[0], j - o[1], k - o[2]] + buf[i + o[0], j + o[1], k + o[2]]
                                         + 2 * buf[i, j, k]) / 4
    out = np.zeros((h, w))
    for x in range(w):
        for y in range(h):
            f = (x / ss + pad, y / ss + pad, (img[y, x] - lo) / sr + pad)
            i0 = [int(v) for v in f]
            acc = np.zeros(2)
            for corner in np.ndindex(2, 2, 2):
                wt = np.prod([(f[d] - i0[d]) if corner[d] else 1 - (f[d] - i0[d]) for d in range(3)])
                idx = tuple(min(i0[d] + corner[d], data.shape[d] - 1) for d in range(3))
                acc += wt * data[idx]
            out[y, x] = acc[0] / acc[1]
    return out


def test_bilateral_grid_matches_the_cell_by_cell_algorithm():
    img = RNG.random((14, 17)) * 0.5 + np.linspace(0, 0.5, 17)[None, :]
    assert np.abs(bilateral_grid(img, 2.0, 0.1) - _bilateral_grid_loops(img, 2.0, 0.1)).max() < 1e-12


def _reference_latent_lrr(x, lam, tol=1e-6, rho=1.1, mu=1e-6, max_mu=1e6, max_iter=1000):
    """Liu & Yan's inexact ALM written out literally: full n x n Z, explicit inverses, SVD-based SVT."""
    d, n = x.shape

    def svt_svd(a, tau):
        u, s, vt = np.linalg.svd(a, full_matrices=False)
        k = s > tau
        return (u[:, k] * (s[k] - tau)) @ vt[k]

    inv_a = np.linalg.inv(x.T @ x + np.eye(n))
    inv_b = np.linalg.inv(x @ x.T + np.eye(d))
    z = np.zeros((n, n)); lm = np.zeros((d, d)); e = np.zeros((d, n))
    y1 = np.zeros((d, n)); y2 = np.zeros((n, n)); y3 = np.zeros((d, d))
    for _ in range(max_iter):
        j = svt_svd(z + y2 / mu, 1 / mu)
        s = svt_svd(lm + y3 / mu, 1 / mu)
        z = inv_a @ (x.T @ x - x.T @ lm @ x - x.T @ e + j + (x.T @ y1 - y2) / mu)
        lm = ((x - x @ z - e) @ x.T + s + (y1 @ x.T - y3) / mu) @ inv_b
        xmaz = x - x @ z - lm @ x
        t = xmaz + y1 / mu
        e = np.maximum(0, t - lam / mu) + np.minimum(0, t + lam / mu)
        l1, l2, l3 = xmaz - e, z - j, lm - s
        if max(np.abs(l1).max(), np.abs(l2).max(), np.abs(l3).max()) < tol:
            break
        y1 += mu * l1; y2 += mu * l2; y3 += mu * l3
        mu = min(max_mu, mu * rho)
    return z, lm, e


@pytest.mark.parametrize("shape", [(24, 36), (36, 24), (30, 30)])
def test_latent_lrr_equals_the_literal_reference_alm(shape):
    """The reduced / regrouped solver (row space of X, diagonal (I + X^T X)^-1, 5 products per
    iteration, Gershgorin skip, threaded SVT steps) follows the reference iterates to rounding."""
    from pixfuse.io import read_image

    from conftest import data_path

    ir, _ = read_image(data_path("ivif", "msrs", "ir", "00537D.png"))
    x = np.asarray(ir[200 : 200 + shape[0], 300 : 300 + shape[1]], np.float64)
    ref = _reference_latent_lrr(x, 0.8)
    got = latent_lrr(x, 0.8)
    for r, g in zip(ref, got):
        assert np.abs(r - g).max() < 1e-9


def test_svt_gershgorin_skip_is_exact():
    a = RNG.random((8, 11))
    s = np.linalg.svd(a, compute_uv=False)
    g = a @ a.T
    bound = float(np.sqrt(np.abs(g).sum(axis=1).max()))
    assert s[0] <= bound < np.linalg.norm(a)  # the bound is tighter than Frobenius here
    assert np.array_equal(svt(a, bound), np.zeros_like(a))
    u, sv, vt = np.linalg.svd(a, full_matrices=False)
    tau = 0.999 * s[0]
    assert np.allclose(svt(a, tau), (u * np.maximum(sv - tau, 0)) @ vt, atol=1e-12)


@pytest.mark.parametrize("chunk,threads", [(97, 1), (97, 2), (1 << 20, 1)])
def test_mdlatlrr_chunks_and_threads_do_not_change_the_output(monkeypatch, chunk, threads):
    import pixfuse
    import pixfuse.methods.optimization as opt
    from pixfuse.io import read_image

    from conftest import data_path

    ir, _ = read_image(data_path("ivif", "msrs", "ir", "00537D.png"))
    vi, _ = read_image(data_path("ivif", "msrs", "vi", "00537D.png"))
    ir, vi = ir[200:240, 300:344], vi[200:240, 300:344]
    ref = pixfuse.fuse([ir, vi], "mdlatlrr")
    monkeypatch.setattr(opt, "MDLATLRR_CHUNK", chunk)
    monkeypatch.setattr(opt, "MDLATLRR_THREADS", threads)
    assert np.array_equal(pixfuse.fuse([ir, vi], "mdlatlrr"), ref)


def test_latlrr_threads_do_not_change_the_output(monkeypatch):
    import pixfuse
    import pixfuse.methods.optimization as opt
    import pixfuse.ops.lowrank as lowrank
    from pixfuse.io import read_image

    from conftest import data_path

    ir, _ = read_image(data_path("ivif", "msrs", "ir", "00537D.png"))
    vi, _ = read_image(data_path("ivif", "msrs", "vi", "00537D.png"))
    ir, vi = ir[200:236, 300:340], vi[200:236, 300:340]
    monkeypatch.setattr(opt, "LRR_THREADS", 2)
    monkeypatch.setattr(lowrank, "LRR_THREADS", 2)
    threaded = pixfuse.fuse([ir, vi], "latlrr")
    monkeypatch.setattr(opt, "LRR_THREADS", 1)
    monkeypatch.setattr(lowrank, "LRR_THREADS", 1)
    assert np.array_equal(pixfuse.fuse([ir, vi], "latlrr"), threaded)
