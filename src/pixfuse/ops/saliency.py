"""Saliency maps used by fusion rules.

References
----------
Y. Zhai and M. Shah, "Visual attention detection in video sequences using
spatiotemporal cues", ACM Multimedia 2006 (histogram-contrast saliency, the
"visual saliency map" of Ma et al. 2017).
D. P. Bavirisetti and R. Dhuli, "Two-scale image fusion of visible and infrared
images using saliency detection", Infrared Phys. Technol. 76:52-64, 2016
(mean-median saliency).
Z. Zhou, M. Dong, X. Xie and Z. Gao, "Fusion of infrared and visible images for
night-vision context enhancement", Applied Optics 55(23):6480-6490, 2016
(perceptual saliency with the Mannos-Sakrison CSF).
J. L. Mannos and D. J. Sakrison, "The effects of a visual fidelity criterion on
the encoding of images", IEEE Trans. Inf. Theory 20(4):525-536, 1974.
"""
from __future__ import annotations

import numpy as np

from .imfilter import box_blur, medfilt2


def histogram_saliency(img: np.ndarray) -> np.ndarray:
    """Histogram-contrast saliency, min-max normalised to [0, 1].

    The image (float in [0, 1]) is quantised to 8 bits; the saliency of grey
    level ``j`` is ``sum_i hist(i) |j - i|`` (its total contrast to all other
    pixels), looked up per pixel.  A constant image gives zeros.
    """
    q = np.clip(np.round(np.asarray(img, dtype=np.float64) * 255.0), 0, 255).astype(np.int64)
    count = np.bincount(q.ravel(), minlength=256).astype(np.float64)
    levels = np.arange(256, dtype=np.float64)
    table = np.abs(levels[:, None] - levels[None, :]) @ count
    s = table[q]
    lo, hi = s.min(), s.max()
    if hi <= lo:
        return np.zeros_like(s)
    return (s - lo) / (hi - lo)


def mean_median_saliency(img: np.ndarray, mean_size: int = 35, median_size: int = 3) -> np.ndarray:
    """TIF saliency ``(mean_filter(I) - median_filter(I))**2`` as in Bavirisetti & Dhuli's code.

    The mean uses a ``mean_size`` box with circular extension and the median a
    ``median_size`` window with zero extension (MATLAB ``medfilt2``), as the
    reference code does.
    """
    x = np.asarray(img, dtype=np.float64)
    b = box_blur(x, mean_size, border="circular")
    med = medfilt2(x.astype(np.float32), median_size).astype(np.float64)
    return (b - med) ** 2


def _mannos_sakrison(r: np.ndarray) -> np.ndarray:
    return 2.6 * (0.0192 + 0.114 * r) * np.exp(-((0.114 * r) ** 1.1))


def _freqspace(n: int) -> np.ndarray:
    # MATLAB freqspace(n): (-n/2:n/2-1)*2/n for even n, (-(n-1)/2:(n-1)/2)*2/n for odd n
    if n % 2 == 0:
        return (np.arange(n) - n / 2) * (2.0 / n)
    return (np.arange(n) - (n - 1) / 2) * (2.0 / n)


def _window_perceptual_energy(block: np.ndarray, r: float) -> float:
    m, n = block.shape
    f = np.fft.fftshift(np.fft.fft2(block))
    u = _freqspace(n)[None, :] / 2 * r
    v = _freqspace(m)[:, None] / 2 * r
    fw = _mannos_sakrison(np.sqrt(u * u + v * v))
    a = np.abs(f * fw)
    return float(np.sqrt((a * a).sum()) / (m * n))


def perceptual_saliency(img: np.ndarray, r: float = 32.0, window: int = 40, alpha: float = 2.0) -> float:
    """Perceptual saliency (PS) of an image (Zhou et al. 2016), a scalar.

    The image (0-255 scale) is cut into ``window x window`` blocks (the last
    ones smaller, as MATLAB ``blockproc``); each block's CSF-weighted spectral
    energy (Mannos-Sakrison CSF, frequencies scaled to ``r/2`` cycles) is
    averaged with weights ``sum(|grad|**alpha)`` of the Sobel gradient in the
    block.  The gradient uses the 'valid' region, so the image is cropped by
    one pixel on every side first.
    """
    x = np.asarray(img, dtype=np.float64)
    sh = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)
    from scipy.signal import convolve2d

    gx = convolve2d(x, sh, mode="valid")
    gy = convolve2d(x, sh.T, mode="valid")
    g = np.sqrt(gx * gx + gy * gy)
    x = x[1:-1, 1:-1]
    num = 0.0
    den = 0.0
    for i in range(0, x.shape[0], window):
        for j in range(0, x.shape[1], window):
            lam = float((g[i : i + window, j : j + window] ** alpha).sum())
            if lam == 0.0:
                continue
            num += _window_perceptual_energy(x[i : i + window, j : j + window], r) * lam
            den += lam
    return num / den if den > 0 else 0.0
