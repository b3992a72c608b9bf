"""Photometric augmentation of the training crops (numpy only, runs without torch)."""
from __future__ import annotations

import numpy as np

from pixfuse.learned import infer, lut
from pixfuse.learned.data import photometric_shift, sample_crops

from conftest import data_path


def _images():
    # smooth random images (blurred noise stretched to [0.05, 0.95]), so a re-exposed or slightly blurred crop
    # stays correlated with the original
    import cv2

    rng = np.random.default_rng(5)
    out = []
    for h, w in ((40, 50), (30, 70)):
        im = np.stack([cv2.GaussianBlur(rng.random((h, w), dtype=np.float32), (0, 0), 4.0) for _ in range(2)])
        lo, hi = im.min(axis=(1, 2), keepdims=True), im.max(axis=(1, 2), keepdims=True)
        out.append((0.05 + 0.9 * (im - lo) / (hi - lo)).astype(np.float32))
    return out


def test_photometric_zero_reproduces_the_plain_crops():
    ims = _images()
    a = sample_crops(ims, 6, 24, np.random.default_rng([0, 7]))
    b = sample_crops(ims, 6, 24, np.random.default_rng([0, 7]), photometric=0.0)
    np.testing.assert_array_equal(a, b)


def test_photometric_shift_identity_and_analytic_gamma_gain():
    c = np.random.default_rng(1).random((2, 8, 9)).astype(np.float32)
    np.testing.assert_allclose(photometric_shift(c, np.random.default_rng(0), gamma=1.0, gain=1.0, noise=0.0, blur=0.0), c,
                               atol=1e-7)
    # with noise 0 every source becomes g * x**p for one (g, p) per source: log-linear in log x
    out = photometric_shift(c, np.random.default_rng(3), noise=0.0, blur=0.0)
    for j in range(2):
        x, y = np.log(c[j].ravel().astype(np.float64)), np.log(out[j].ravel().astype(np.float64))
        p, lg = np.polyfit(x, y, 1)
        np.testing.assert_allclose(y, p * x + lg, atol=1e-5)
        assert 1 / 2.5 - 1e-6 <= p <= 2.5 + 1e-6 and 0.3 - 1e-6 <= np.exp(lg) <= 1 + 1e-6


def test_photometric_crops_deterministic_in_range_and_changed():
    ims = _images()
    a = sample_crops(ims, 8, 24, np.random.default_rng([0, 3]), photometric=1.0)
    b = sample_crops(ims, 8, 24, np.random.default_rng([0, 3]), photometric=1.0)
    plain = sample_crops(ims, 8, 24, np.random.default_rng([0, 3]))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.min() >= 0 and a.max() <= 1
    # same crops (same positions / flips), only the values re-exposed (and sometimes softened): each source
    # stays strongly correlated with the plain crop
    for k in range(8):
        for j in range(2):
            assert not np.array_equal(a[k, j], plain[k, j])
            assert np.corrcoef(a[k, j].ravel(), plain[k, j].ravel())[0, 1] > 0.8


def test_swap_exchanges_the_sources():
    ims = _images()
    plain = sample_crops(ims, 8, 24, np.random.default_rng([1, 2]))
    all_swapped = sample_crops(ims, 8, 24, np.random.default_rng([1, 2]), swap=1.0)
    np.testing.assert_array_equal(all_swapped, plain[:, ::-1])
    some = sample_crops(ims, 8, 24, np.random.default_rng([1, 2]), swap=0.5)
    swapped = [np.array_equal(some[k], plain[k, ::-1]) for k in range(8)]
    kept = [np.array_equal(some[k], plain[k]) for k in range(8)]
    assert all(s or k for s, k in zip(swapped, kept)) and any(swapped) and any(kept)


def test_cli_distill_photometric_adds_reexposed_copies_and_records_the_command(cli, tmp_path):
    model = infer.data_dir() / "pixnet-tiny_ivif.npz"
    outs = {}
    for flag in ([], ["--photometric"]):
        out = tmp_path / f"t{len(flag)}.npz"
        r = cli("distill", "--model", model, "--task", "ivif", "--data", data_path("ivif", "train_roadscene"),
                "--out", out, "--pairs", "2", "--samples", "30000", "--nodes", "5", *flag)
        assert r.returncode == 0, r.stderr
        outs[len(flag)] = lut.load_lut(out)
    plain, shifted = outs[0], outs[1]
    assert "--photometric" in shifted.meta["command"] and "--photometric" not in plain.meta["command"]
    assert shifted.table.shape == plain.table.shape == (5, 5, 5, 2)
    # the re-exposed copies change the fit (they populate the dark corner of the table)
    assert not np.allclose(shifted.table, plain.table)
    # deterministic
    out = tmp_path / "again.npz"
    r = cli("distill", "--model", model, "--task", "ivif", "--data", data_path("ivif", "train_roadscene"),
            "--out", out, "--pairs", "2", "--samples", "30000", "--nodes", "5", "--photometric")
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(lut.load_lut(out).table, shifted.table)
