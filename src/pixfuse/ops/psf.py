"""Spatial degradation with a Gaussian point spread function (hyperspectral simulation protocol).

:func:`gaussian_downsample` blurs every band with an isotropic Gaussian PSF
and keeps one sample per ``ratio x ratio`` block, the block *centre*: the
PSF is centred on the centre of each block (for even ratios that lies between
pixels, handled exactly by a half-pixel phase shift in the Fourier domain).
Borders are periodic (the blur is a circular convolution, as assumed by the
FFT-based fusion methods, e.g. HySure).  The default width is a full width at
half maximum equal to the ratio, ``sigma = ratio / (2 sqrt(2 ln 2))``.

:func:`resize` is the resampler the hyperspectral methods use to move maps
between the two grids: bicubic enlargement, area averaging for reduction
(pixel-centre aligned, as MATLAB's ``imresize``).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["fwhm_sigma", "gaussian_otf", "gaussian_downsample", "resize"]


def fwhm_sigma(ratio: float) -> float:
    """Gaussian sigma whose FWHM equals ``ratio`` pixels."""
    return float(ratio) / (2.0 * math.sqrt(2.0 * math.log(2.0)))


def gaussian_otf(shape: tuple[int, int], sigma: float, shift: float = 0.0) -> np.ndarray:
    """Optical transfer function (rfft2 layout) of a Gaussian PSF shifted by ``shift`` pixels in both axes."""
    h, w = shape
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    otf = np.exp(-2.0 * (math.pi * sigma) ** 2 * (fy ** 2 + fx ** 2))
    if shift:
        otf = otf * np.exp(-2j * math.pi * shift * (fy + fx))
    return otf


def gaussian_downsample(cube: np.ndarray, ratio: int, sigma: float | None = None) -> np.ndarray:
    """Blur with a Gaussian PSF (periodic borders) and decimate by ``ratio`` at block centres.

    Parameters
    ----------
    cube
        ``HxW`` or ``HxWxL`` array; H and W multiples of ``ratio``.
    ratio
        Integer decimation factor.
    sigma
        PSF standard deviation in high-resolution pixels (default FWHM = ratio).

    Returns
    -------
    ``(H/ratio) x (W/ratio) [x L]`` float64 array.
    """
    a = np.asarray(cube, dtype=np.float64)
    two_d = a.ndim == 2
    if two_d:
        a = a[:, :, None]
    h, w = a.shape[:2]
    if h % ratio or w % ratio:
        raise ValueError(f"size {w}x{h} is not a multiple of the ratio {ratio}")
    s = fwhm_sigma(ratio) if sigma is None else float(sigma)
    # sample index r//2 of each block; the block centre is (ratio-1)/2: shift the PSF by the difference
    shift = (ratio // 2) - (ratio - 1) / 2.0
    otf = gaussian_otf((h, w), s, shift)
    blurred = np.fft.irfft2(np.fft.rfft2(a, axes=(0, 1)) * otf[:, :, None], s=(h, w), axes=(0, 1))
    out = blurred[ratio // 2::ratio, ratio // 2::ratio]
    return out[:, :, 0] if two_d else out


def resize(img: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize ``HxW[xC]`` to ``shape`` (rows, cols): bicubic when enlarging, area mean when reducing."""
    import cv2

    a = np.asarray(img, dtype=np.float32)
    h, w = shape
    interp = cv2.INTER_CUBIC if h >= a.shape[0] else cv2.INTER_AREA
    if a.ndim == 3 and a.shape[2] > 4:
        return np.dstack([cv2.resize(a[:, :, i:i + 4], (w, h), interpolation=interp).reshape(h, w, -1)
                          for i in range(0, a.shape[2], 4)])
    out = cv2.resize(a, (w, h), interpolation=interp)
    return out.reshape((h, w) + a.shape[2:])
