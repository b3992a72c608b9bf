"""Speed-ups of NSST-PAPCNN and the sparse-representation OMP keep the results bit for bit.

* The PA-PCNN now runs in cache-sized chunks of bands, on up to two threads;
  it is compared here with a literal transcription of the previous
  implementation (the whole band stack in one array, one iteration at a time).
* The OMP codes chunks of signals on up to two threads; chunk size and thread
  count must not change a single coefficient.
* Pinned values were computed with the implementation *before* the speed-ups
  (commit 6e4dd50) on a real Harvard PET-MRI pair: the fused luminance must
  agree to 1e-6.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest

import pixfuse
import pixfuse.methods.medical as med
import pixfuse.ops.sparse as sparse
from pixfuse.io import read_image
from pixfuse.ops.color import rgb_to_gray, rgb_to_ycbcr
from pixfuse.ops.directional import nsst_forward

from conftest import data_path


def _crop(a: np.ndarray, size: int) -> np.ndarray:
    h, w = a.shape[:2]
    y, x = (h - size) // 2, (w - size) // 2
    return np.ascontiguousarray(a[y : y + size, x : x + size])


def _pet_mri(size: int = 96):
    mri, _ = read_image(data_path("medical", "harvard", "PET-MRI", "MRI", "25020.png"))
    pet, _ = read_image(data_path("medical", "harvard", "PET-MRI", "PET", "25020.png"))
    mri = rgb_to_gray(mri) if mri.ndim == 3 else mri
    return _crop(mri, size), _crop(pet, size)


def _literal_pcnn(stimuli: np.ndarray, params: np.ndarray, iterations: int) -> np.ndarray:
    """The PA-PCNN as implemented before the speed-up: all slices in one (H, W, C) array."""
    f = np.ascontiguousarray(stimuli.transpose(1, 2, 0), dtype=np.float32)
    af = np.exp(-params[:, 0]).astype(np.float32)
    flam = f * params[:, 1].astype(np.float32)
    ve = params[:, 2].astype(np.float32)
    ae = np.exp(-params[:, 3]).astype(np.float32)
    u = np.zeros_like(f)
    e = np.ones_like(f)
    y = np.zeros_like(f)
    t = np.zeros_like(f)
    for _ in range(iterations):
        k = cv2.filter2D(y, cv2.CV_32F, med._PCNN_W, borderType=cv2.BORDER_CONSTANT)
        u = u * af + f + k * flam
        y = (u > e).astype(np.float32)
        e = e * ae + y * ve
        t += y
    return t.transpose(2, 0, 1)


def _stimuli(size: int = 40):
    mri, pet = _pet_mri(size)
    pet_y = rgb_to_ycbcr(pet)[:, :, 0].astype(np.float32)
    a, b = (nsst_forward(im, (3, 3, 4, 4)) for im in (mri, pet_y))
    top, left, h, w = a.crop
    inner = (slice(None), slice(top, top + h), slice(left, left + w))
    stim = np.abs(np.concatenate([np.concatenate([band[inner] for band in c.bands]) for c in (a, b)]))
    params = np.array([med.papcnn_parameters(s) for s in stim], np.float64)
    return stim, params


@pytest.mark.parametrize("chunk,threads", [(1, 1), (1, 2), (5 * 40 * 40, 2), (1 << 30, 1)])
def test_pcnn_chunks_and_threads_equal_the_literal_whole_stack_loop(monkeypatch, chunk, threads):
    stim, params = _stimuli()
    ref = _literal_pcnn(stim, params, 110)
    monkeypatch.setattr(med, "PCNN_CHUNK_PIXELS", chunk)
    monkeypatch.setattr(med, "PCNN_THREADS", threads)
    got = med.papcnn_firing_times(stim, params, 110)
    assert got.dtype == np.uint8
    assert np.array_equal(got, ref)
    assert 0 < got.mean() < 110  # neurons fire, not always


def test_pcnn_counts_beyond_255_iterations():
    stim, params = _stimuli(24)
    got = med.papcnn_firing_times(stim[:3], params[:3], 300)
    assert got.dtype == np.uint16
    assert np.array_equal(got, _literal_pcnn(stim[:3], params[:3], 300))


def _patches(size: int = 40) -> np.ndarray:
    mri, _ = _pet_mri(size)
    cols, _, _ = sparse.extract_patches(mri, 8, 3)
    return cols - cols.mean(axis=0)


def test_omp_threads_and_chunks_do_not_change_a_coefficient(monkeypatch):
    d = sparse.load_sr_dictionary()
    x = _patches()
    monkeypatch.setattr(sparse, "OMP_THREADS", 1)
    a1, g1 = sparse.omp(d, x, tol=0.1 / 255)
    monkeypatch.setattr(sparse, "OMP_THREADS", 2)
    monkeypatch.setattr(sparse, "_CHUNK", 37)
    a2, g2 = sparse.omp(d, x, tol=0.1 / 255)
    assert np.array_equal(a1, a2) and np.array_equal(g1, g2)
    # the error target is met and the code reproduces the approximation
    assert np.linalg.norm(x - a1, axis=0).max() <= 0.1 / 255 * (1 + 1e-4)
    np.testing.assert_allclose(d @ g1, a1, atol=2e-5)


# Fused luminance of the Harvard PET-MRI pair 25020 (96x96 centre crop), computed with the
# implementation before the speed-ups: (mean, std, Y[20, 30], Y[48, 48], Y[70, 60]).
PINNED = {
    "nsst-papcnn": (0.593471884727478, 0.20135588943958282, 0.9074641466140747, 0.40723830461502075, 0.7651256322860718),
    "nsst-sr": (0.5695203542709351, 0.2247803509235382, 0.9090938568115234, 0.3933119773864746, 0.7343236804008484),
}


@pytest.mark.parametrize("method", ["nsst-papcnn", "nsst-sr"])
def test_speedups_keep_the_pinned_outputs(method):
    mri, pet = _pet_mri()
    f = pixfuse.fuse([mri, pet], method)
    y = rgb_to_ycbcr(f)[:, :, 0]
    got = (float(y.mean()), float(y.std()), float(y[20, 30]), float(y[48, 48]), float(y[70, 60]))
    np.testing.assert_allclose(got, PINNED[method], rtol=0, atol=1e-6)
