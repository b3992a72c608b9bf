"""Analytic tests of the multi-scale / sparse building blocks (ops) of the ivif_msd methods."""
from __future__ import annotations

import numpy as np
import pytest

from pixfuse.ops import directional, pyramid, rules, sparse, wavelets
from pixfuse.methods.medical import otsu_threshold, papcnn_parameters, wseml


@pytest.fixture(scope="module")
def img():
    rng = np.random.default_rng(1)
    x = rng.random((77, 93)).astype(np.float32)
    import cv2

    return cv2.GaussianBlur(x, (0, 0), 1.0)


@pytest.mark.parametrize(
    "fwd,inv,tol",
    [
        (lambda x: pyramid.ratio_pyramid(x, 4), pyramid.reconstruct_ratio, 1e-5),
        (lambda x: pyramid.contrast_pyramid(x, 4), pyramid.reconstruct_contrast, 1e-5),
        (lambda x: pyramid.morphological_pyramid(x, 4), pyramid.reconstruct_morphological, 1e-6),
    ],
)
def test_pyramids_are_exactly_invertible(img, fwd, inv, tol):
    assert np.abs(inv(fwd(img)) - img).max() < tol


def test_gradient_pyramid_fsd_identity_and_approximate_inverse(img):
    # -1/8 sum_l d_l * d_l * (1 + w') G == (1 - w) G with w the 5-tap binomial (Burt 1992)
    import cv2

    p = pyramid.gradient_pyramid(img, 4)
    w = np.array([1, 4, 6, 4, 1], np.float32) / 16
    fsd = img - cv2.sepFilter2D(img, cv2.CV_32F, w, w, borderType=cv2.BORDER_REFLECT_101)
    assert np.abs(pyramid.gradient_to_laplacian(p[0]) - fsd)[3:-3, 3:-3].max() < 1e-5
    rec = pyramid.reconstruct_gradient(p)
    assert np.abs(rec - img).mean() < 0.01


def test_morph_expand_handles_negative_values():
    small = -np.ones((4, 4), np.float32)
    out = pyramid.morph_expand(small, (8, 8))
    assert np.all(out == -1.0)


@pytest.mark.parametrize("wav", ["db1", "db2", "sym4"])
def test_dwt_swt_roundtrip(img, wav):
    c = wavelets.dwt_decompose(img, wav, 3)
    assert np.abs(wavelets.dwt_reconstruct(c, wav, img.shape) - img).max() < 1e-5
    c, crop = wavelets.swt_decompose(img, wav, 3)
    assert np.abs(wavelets.swt_reconstruct(c, wav, crop) - img).max() < 1e-5


def test_dtcwt_roundtrip_and_shift_invariance():
    x = np.random.default_rng(0).random((70, 90))
    p = wavelets.dtcwt_forward(x, 3)
    assert np.abs(wavelets.dtcwt_inverse(p) - x).max() < 1e-6
    # energy of a level-3 band of a shifted step edge barely changes (the real DWT's changes a lot)
    e_c, e_r = [], []
    for s in range(8):
        im = np.zeros((64, 64))
        im[:, 20 + s :] = 1.0
        z = wavelets.dtcwt_forward(im, 3).highpasses[2]
        e_c.append(np.sum(np.abs(z) ** 2))
        import pywt

        d = pywt.wavedec2(im, "db2", mode="periodization", level=3)[1]
        e_r.append(sum(float(np.sum(b**2)) for b in d))
    cv_c = np.std(e_c) / np.mean(e_c)
    cv_r = np.std(e_r) / np.mean(e_r)
    assert cv_c < 0.1 and cv_c < cv_r / 2


def test_msvd_roundtrip_odd_size(img):
    a, levs, shapes = wavelets.msvd_forward(img, 2)
    assert a.shape == (20, 24)
    assert np.abs(wavelets.msvd_inverse(a, levs, shapes) - img).max() < 1e-5


@pytest.mark.parametrize("dirs", [(8, 8, 16, 16), (4, 8, 8, 16), (8, 16, 16, 1)])
def test_frames_are_tight_and_invertible(img, dirs):
    c = directional.frame_forward(img, dirs)
    assert [b.shape[0] for b in c.bands] == list(dirs)
    assert np.abs(directional.frame_inverse(c) - img).max() < 1e-5
    fr = directional._frame(c.lowpass.shape, dirs)
    tot = fr.lowpass.astype(np.float64) ** 2 + sum((b.astype(np.float64) ** 2).sum(0) for b in fr.bands)
    assert np.allclose(tot, 1.0, atol=1e-5)


def test_shearlet_bands_are_directional():
    # a vertical edge (horizontal frequencies) puts its energy in few directional bands
    im = np.zeros((96, 96), np.float32)
    im[:, 48:] = 1.0
    c = directional.nsst_forward(im, (3, 3, 4, 4))
    e = (c.bands[-1][:, 30:66, 30:66] ** 2).sum(axis=(1, 2))
    assert np.sort(e)[::-1][:2].sum() > 0.9 * e.sum()


def test_curvelet_schedule():
    assert directional.curvelet_directions(5, 16) == (8, 16, 16, 1)
    assert directional.curvelet_directions(5, 16, finest_wavelet=False) == (8, 16, 16, 32)


def test_select_consistent_majority():
    a = np.zeros((5, 5), np.float32)
    b = np.full((5, 5), 0.5, np.float32)
    a[2, 2] = 1.0  # isolated winner of source a is overruled by its neighbours
    out = rules.select_consistent(np.stack([a, b]), window=1, verify=False)
    assert out[2, 2] == 1.0
    dec = rules.decision_consistent(np.abs(np.stack([a, b])), window=1, verify=False)
    ver = rules.consistency_verify(dec, 2, 3)
    assert ver[2, 2] == 1 and dec[2, 2] == 0


def test_salience_match_rule():
    a = np.full((6, 6), 1.0, np.float32)
    # identical -> match 1 -> equal weights -> same value
    assert np.allclose(rules.salience_match(np.stack([a, a])), 1.0)
    # opposite signs -> match -1 < alpha -> selection of the more salient
    b = -2.0 * a
    assert np.allclose(rules.salience_match(np.stack([a, b])), -2.0)


def test_omp_matches_least_squares_on_support():
    rng = np.random.default_rng(3)
    d = sparse.normalize_columns(rng.standard_normal((16, 40)))
    x = rng.standard_normal((16, 30)).astype(np.float32)
    approx, g = sparse.omp(d, x, max_atoms=5)
    assert np.all((g != 0).sum(0) == 5)
    assert np.abs(d @ g - approx).max() < 1e-4
    for i in range(3):
        sup = np.flatnonzero(g[:, i])
        ls = np.linalg.lstsq(d[:, sup], x[:, i], rcond=None)[0]
        assert np.abs(ls - g[sup, i]).max() < 1e-4
    approx, g = sparse.omp(d, x, tol=1e-3)
    assert np.linalg.norm(x - approx, axis=0).max() <= 1.01e-3
    # an exact 2-sparse signal is recovered exactly
    x2 = (2.0 * d[:, 3] - 0.5 * d[:, 17])[:, None]
    _, g2 = sparse.omp(d, x2, tol=1e-6)
    assert set(np.flatnonzero(np.abs(g2[:, 0]) > 1e-4)) == {3, 17}


def test_shipped_dictionary_and_checksum(tmp_path, monkeypatch):
    from importlib import resources

    if not resources.files("pixfuse").joinpath("data", "sr_dictionary.npz").is_file():
        pytest.skip("dictionary not generated yet")
    d = sparse.load_sr_dictionary()
    assert d.shape == (64, 256) and d.dtype == np.float32
    assert np.allclose(np.linalg.norm(d, axis=0), 1.0, atol=1e-5)
    monkeypatch.setattr(sparse, "SR_DICTIONARY_SHA256", "0" * 64)
    with pytest.raises(RuntimeError, match="sha256"):
        sparse.load_sr_dictionary()


def test_otsu_threshold_bimodal():
    x = np.concatenate([np.full(500, 0.2), np.full(500, 0.8)])
    t = otsu_threshold(x)
    assert 0.2 <= t < 0.8


def test_papcnn_parameters_formula():
    s = np.concatenate([np.full(500, 0.1), np.full(500, 0.5)]).astype(np.float32)
    af, lam, ve, ae = papcnn_parameters(s)
    assert af == pytest.approx(np.log10(1 / 0.2), rel=1e-5)
    sp = otsu_threshold(s)
    assert lam == pytest.approx((0.5 / sp - 1) / 6, rel=1e-5)
    assert ve == pytest.approx(np.exp(-af) + 1 + 6 * lam, rel=1e-6)


def test_wseml_of_a_plane_is_zero():
    y, x = np.mgrid[0:20, 0:20].astype(np.float32)
    assert np.abs(wseml(0.01 * x + 0.02 * y)[2:-2, 2:-2]).max() < 1e-5
