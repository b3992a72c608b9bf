"""Hyperspectral-multispectral fusion protocol on a reference cube (e.g. CAVE).

From a high-resolution hyperspectral cube ``X`` (``H x W x L``, values in
[0, 1]):

* the **low-resolution HSI** is ``X`` blurred by a Gaussian PSF of FWHM =
  ``ratio`` (periodic borders) and decimated by ``ratio`` at block centres
  (:func:`pixfuse.ops.psf.gaussian_downsample`);
* the **high-resolution MSI** is ``X`` seen by a real camera:
  ``X @ R.T`` with ``R`` the spectral responses of :func:`pixfuse.ops.spectral_response.srf_matrix`
  (default: CIE 1931 colour-matching functions, i.e. an XYZ camera; the
  NPL-measured Nikon D5100 with colour-science installed);
* optional Gaussian noise at a given SNR (dB) on each.

A method fuses ``[hsi, msi]`` and is scored against ``X`` with
:func:`score` (PSNR, SAM, ERGAS, SSIM, UIQI), on the whole image.

Metric conventions (as in the HSI-MSI fusion literature, e.g. Yokoya et al.,
IEEE GRSM 2017), computed by the same functions as the pansharpening indices
(:mod:`pixfuse.metrics.spectral`, ``cut=0``: no border removed): PSNR is the mean
over bands of ``10 log10(max(X_l)^2 / MSE_l)`` (``inf`` for an exact band);
SAM the mean angle in degrees between reference and fused spectra (pixels with
a zero norm excluded); ERGAS ``100/ratio sqrt(mean_l MSE_l / mean(X_l)^2)``;
SSIM the mean over bands of Wang et al.'s SSIM (Gaussian window 11x11, sigma
1.5, K = (0.01, 0.03), 'valid' map, dynamic range 1); UIQI the mean over bands
of Wang and Bovik's Q on sliding 32x32 windows (the pansharpening toolbox's ``Q``).
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ..errors import InputError, ShapeMismatchError
from ..metrics.spectral import reference_scores
from ..ops.psf import gaussian_downsample
from ..ops.spectral_response import srf_matrix

__all__ = ["read_cave", "simulate", "score", "run_protocol", "HsiCase", "METRICS"]

METRICS = ("PSNR", "SAM", "ERGAS", "SSIM", "UIQI")


def read_cave(folder: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a CAVE scene folder of 16-bit PNG bands ``*_01.png .. *_31.png``.

    Returns ``(cube, wavelengths)``: ``H x W x 31`` float32 in [0, 1]
    (value / 65535) and the band centres 400, 410, ..., 700 nm.
    """
    from ..io import read_image

    d = Path(folder)
    if not d.is_dir():
        raise InputError(f"{d}: not a folder")
    files = sorted(p for p in d.glob("*.png") if p.stem.rsplit("_", 1)[-1].isdigit())
    if not files:
        raise InputError(f"{d}: no band files NAME_01.png ... found")
    bands = []
    for p in files:
        img, meta = read_image(p)
        if img.ndim != 2:
            raise InputError(f"{p}: expected a single-band image")
        bands.append(img)
    cube = np.stack(bands, axis=2).astype(np.float32)
    wl = 400.0 + 10.0 * np.arange(cube.shape[2])
    return cube, wl


@dataclasses.dataclass
class HsiCase:
    """Simulated inputs and the reference of one scene."""

    hsi: np.ndarray
    msi: np.ndarray
    reference: np.ndarray
    ratio: int
    srf: np.ndarray


def _add_noise(x: np.ndarray, snr_db: float | None, rng: np.random.Generator) -> np.ndarray:
    if snr_db is None:
        return x
    p = (x ** 2).mean(axis=(0, 1), keepdims=True)
    return x + rng.normal(size=x.shape) * np.sqrt(p / 10 ** (snr_db / 10))


def simulate(cube: np.ndarray, *, ratio: int = 8, srf: str | np.ndarray = "cie1931",
             wavelengths: Sequence[float] | None = None, sigma: float | None = None,
             snr_hsi: float | None = None, snr_msi: float | None = None, seed: int = 0) -> HsiCase:
    """Simulate a low-resolution HSI and a high-resolution MSI from ``cube`` (see the module docstring)."""
    x = np.asarray(cube, dtype=np.float64)
    if x.ndim != 3:
        raise InputError(f"the reference cube must be H x W x L, got {x.shape}")
    R = srf_matrix(srf, wavelengths if wavelengths is not None else 400.0 + 10.0 * np.arange(x.shape[2])) \
        if isinstance(srf, str) else np.asarray(srf, dtype=np.float64)
    if R.shape[1] != x.shape[2]:
        raise ShapeMismatchError(f"spectral response has {R.shape[1]} bands, the cube {x.shape[2]}")
    rng = np.random.default_rng(seed)
    hsi = _add_noise(gaussian_downsample(x, ratio, sigma), snr_hsi, rng)
    msi = _add_noise(x @ R.T, snr_msi, rng)
    return HsiCase(hsi.astype(np.float32), msi.astype(np.float32), x.astype(np.float32), ratio, R)


# ------------------------------------------------------------------------------------------ metrics


def score(reference: np.ndarray, fused: np.ndarray, ratio: int) -> dict[str, float]:
    """PSNR (dB, higher better), SAM (deg, lower), ERGAS (lower), SSIM and UIQI (higher) of ``fused``.

    One implementation with the pansharpening indices: :func:`pixfuse.metrics.spectral.reference_scores`
    with the hyperspectral conventions — whole image (``cut=0``), SSIM dynamic range 1 (cube in [0, 1]).
    """
    ref = np.asarray(reference, dtype=np.float64)
    f = np.asarray(fused, dtype=np.float64)
    if ref.shape != f.shape:
        raise ShapeMismatchError(f"fused {f.shape} and reference {ref.shape} differ")
    return reference_scores(ref, f, ratio=ratio, cut=0, indices=METRICS, data_range=1.0)


def run_protocol(cube: np.ndarray, methods: Sequence[str], *, ratio: int = 8, srf: str = "cie1931",
                 params: dict[str, dict[str, Any]] | None = None, **sim: Any) -> dict[str, dict[str, float]]:
    """Simulate, fuse with each method, score: ``{method: {metric: value, "time_s": seconds}}``."""
    from ..api import fuse

    case = simulate(cube, ratio=ratio, srf=srf, **sim)
    out: dict[str, dict[str, float]] = {}
    for m in methods:
        t0 = time.perf_counter()
        fused = fuse([case.hsi, case.msi], m, **(params or {}).get(m, {}))
        dt = time.perf_counter() - t0
        out[m] = {**score(case.reference, fused, ratio), "time_s": dt}
    return out
