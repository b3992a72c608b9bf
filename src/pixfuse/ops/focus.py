"""Focus measures (sharpness per pixel, summed over a window) for multi-focus fusion.

All functions take a grey float image and return an HxW float32 map where a
larger value means "more in focus"; ``window`` is the side of the square
summation window (1 = no summation).

References
----------
W. Huang and Z. Jing, "Evaluation of focus measures in multi-focus image
fusion", Pattern Recognition Letters 28(4):493-500, 2007 (EOL, SML, variance,
Tenengrad, spatial frequency as fusion activity measures).
S. K. Nayar and Y. Nakagawa, "Shape from focus", IEEE TPAMI 16(8):824-831,
1994 (sum-modified Laplacian).
"""
from __future__ import annotations

import cv2
import numpy as np

MEASURES = ("eol", "sml", "variance", "tenengrad", "sf")

#: 3x3 Laplacian of Huang & Jing's energy of Laplacian (f_xx + f_yy, 8-neighbour form).
_EOL_KERNEL = np.array([[-1, -4, -1], [-4, 20, -4], [-1, -4, -1]], np.float32)


def _window_sum(a: np.ndarray, window: int) -> np.ndarray:
    if window <= 1:
        return a.astype(np.float32, copy=False)
    return cv2.boxFilter(a.astype(np.float32, copy=False), cv2.CV_32F, (window, window), normalize=False,
                         borderType=cv2.BORDER_REFLECT)


def energy_of_laplacian(img: np.ndarray, window: int = 9) -> np.ndarray:
    """EOL: window sum of ``(f_xx + f_yy)^2`` with the 3x3 kernel ``[-1 -4 -1; -4 20 -4; -1 -4 -1]``."""
    lap = cv2.filter2D(np.asarray(img, np.float32), cv2.CV_32F, _EOL_KERNEL, borderType=cv2.BORDER_REFLECT)
    return _window_sum(lap * lap, window)


def modified_laplacian(img: np.ndarray, step: int = 1) -> np.ndarray:
    """``|2f - f(x-s) - f(x+s)| + |2f - f(y-s) - f(y+s)|`` (symmetric padding), float64 input kept, else float32."""
    f = np.asarray(img)
    f = f if f.dtype == np.float64 else f.astype(np.float32)
    p = cv2.copyMakeBorder(f, step, step, step, step, cv2.BORDER_REFLECT)
    c = p[step:-step, step:-step]
    return np.abs(2 * c - p[step:-step, :-2 * step] - p[step:-step, 2 * step:]) + \
        np.abs(2 * c - p[:-2 * step, step:-step] - p[2 * step:, step:-step])


def sum_modified_laplacian(img: np.ndarray, window: int = 9, step: int = 1, threshold: float = 0.0) -> np.ndarray:
    """SML (Nayar & Nakagawa): window sum of the :func:`modified_laplacian` values >= ``threshold``."""
    ml = modified_laplacian(np.asarray(img, np.float32), step)
    if threshold > 0:
        ml = np.where(ml >= threshold, ml, 0)
    return _window_sum(ml, window)


def local_variance(img: np.ndarray, window: int = 9) -> np.ndarray:
    """Variance of the grey values in the window."""
    f = np.asarray(img, np.float32)
    m = cv2.blur(f, (window, window), borderType=cv2.BORDER_REFLECT)
    m2 = cv2.blur(f * f, (window, window), borderType=cv2.BORDER_REFLECT)
    return np.maximum(m2 - m * m, 0)


def tenengrad(img: np.ndarray, window: int = 9, threshold: float = 0.0) -> np.ndarray:
    """Tenengrad: window sum of the squared Sobel gradient magnitude above ``threshold``."""
    f = np.asarray(img, np.float32)
    gx = cv2.Sobel(f, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT)
    gy = cv2.Sobel(f, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT)
    g = gx * gx + gy * gy
    if threshold > 0:
        g = np.where(g > threshold * threshold, g, 0)
    return _window_sum(g, window)


def spatial_frequency(img: np.ndarray, window: int = 9) -> np.ndarray:
    """Local spatial frequency ``sqrt(RF^2 + CF^2)`` with RF/CF the window means of squared row/column differences."""
    f = np.asarray(img, np.float32)
    dx = np.zeros_like(f)
    dy = np.zeros_like(f)
    dx[:, 1:] = f[:, 1:] - f[:, :-1]
    dy[1:, :] = f[1:, :] - f[:-1, :]
    rf = cv2.blur(dx * dx, (window, window), borderType=cv2.BORDER_REFLECT)
    cf = cv2.blur(dy * dy, (window, window), borderType=cv2.BORDER_REFLECT)
    return np.sqrt(rf + cf)


def focus_measure(img: np.ndarray, measure: str = "sml", window: int = 9) -> np.ndarray:
    """Dispatch by name: ``eol``, ``sml``, ``variance``, ``tenengrad`` or ``sf``."""
    fn = {
        "eol": energy_of_laplacian,
        "sml": sum_modified_laplacian,
        "variance": local_variance,
        "tenengrad": tenengrad,
        "sf": spatial_frequency,
    }.get(measure)
    if fn is None:
        raise ValueError(f"unknown focus measure {measure!r}; known: {', '.join(MEASURES)}")
    return fn(img, window)
