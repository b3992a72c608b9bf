"""Directional multi-scale frames built in the frequency domain: non-subsampled shearlets and curvelets.

Both transforms tile the 2-D frequency plane with smooth windows whose
squares sum to one (a Parseval tight frame), so analysis is "multiply the
image spectrum by each window" and synthesis is "multiply each band's
spectrum by its window again and add" -- exact reconstruction with FFTs only,
vectorised, and shift-invariant (nothing is subsampled).

Tiling (shared):

* scales: concentric Cartesian coronae of the pseudo-polar radius
  ``max(|xi_1|, |xi_2|)`` with dyadic boundaries and Meyer transitions; the
  coarsest disc is the low-pass band;
* directions: in each corona the horizontal cone ``|xi_2| <= |xi_1|`` and the
  vertical cone are split into wedges of equal *slope* width (shearing) with
  smooth, squared-normalised transitions; opposite wedges (``xi`` and
  ``-xi``) form one real band.

The non-subsampled shearlet transform (NSST) uses a given number of
directions per scale (``2**dcomp`` of the NSST toolbox); the curvelet frame
uses the parabolic angular schedule of the fast discrete curvelet transform
(``nbangles_coarse`` at the coarsest directional scale, doubling every other
scale) and, like CurveLab's default, an isotropic wavelet band at the finest
scale.

References
----------
G. Easley, D. Labate and W.-Q. Lim, "Sparse directional image representations
using the discrete shearlet transform", Applied and Computational Harmonic
Analysis 25(1):25-46, 2008.

E. Candes, L. Demanet, D. Donoho and L. Ying, "Fast discrete curvelet
transforms", Multiscale Modeling & Simulation 5(3):861-899, 2006.
"""
from __future__ import annotations

import dataclasses
from functools import lru_cache

import numpy as np
from scipy import fft as sfft

_MARGIN = 32
_WORKERS = -1


def _nu(t: np.ndarray) -> np.ndarray:
    """Meyer auxiliary function: smooth step from 0 (t <= 0) to 1 (t >= 1), nu(t) + nu(1-t) = 1."""
    t = np.clip(t, 0.0, 1.0)
    return t**4 * (35.0 - 84.0 * t + 70.0 * t**2 - 20.0 * t**3)


@dataclasses.dataclass(frozen=True)
class Frame:
    """Windows of a frequency-domain frame on an ``rfft2`` grid.

    ``lowpass``: window of the low-pass band; ``bands[s]``: stack
    ``(n_s, Hf, Wf)`` of the windows of scale ``s`` (coarse to fine).
    """

    shape: tuple[int, int]
    lowpass: np.ndarray
    bands: tuple[np.ndarray, ...]


def _grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    h, w = shape
    fy = (sfft.fftfreq(h) * 2.0)[:, None]  # normalised so that Nyquist = 1
    fx = (sfft.rfftfreq(w) * 2.0)[None, :]
    return np.broadcast_to(fy, (h, fx.shape[1])), np.broadcast_to(fx, (h, fx.shape[1]))


def _radial(shape: tuple[int, int], n_scales: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Low-pass window and band-pass radial windows (coarse to fine), squares summing to one."""
    fy, fx = _grid(shape)
    r = np.maximum(np.abs(fx), np.abs(fy))
    # L_j: 1 below 0.75 * rho_j, 0 above 1.5 * rho_j, rho_j = 2**-j (j = 1 finest boundary)
    lows = [np.ones_like(r)]
    for j in range(1, n_scales + 1):
        rho = 2.0**-j
        t = (r - 0.75 * rho) / (0.75 * rho)
        lows.append(np.sqrt(1.0 - _nu(t)))
    bands = [np.sqrt(np.maximum(lows[j - 1] ** 2 - lows[j] ** 2, 0.0)) for j in range(1, n_scales + 1)]
    return lows[-1], bands[::-1]


def _pseudo_angle(shape: tuple[int, int]) -> np.ndarray:
    """Continuous slope coordinate on [0, 4): horizontal cone [0, 2], vertical cone [2, 4]."""
    fy, fx = _grid(shape)
    ax, ay = np.abs(fx), np.abs(fy)
    with np.errstate(divide="ignore", invalid="ignore"):
        horiz = 1.0 + np.where(ax > 0, fy / np.where(ax > 0, fx, 1.0), 0.0)
        vert = 3.0 - np.where(ay > 0, fx / np.where(ay > 0, fy, 1.0), 0.0)
    p = np.where(ay <= ax, horiz, vert)
    return np.mod(p, 4.0)


def _angular(shape: tuple[int, int], n: int, overlap: float = 0.5) -> np.ndarray:
    """``n`` directional windows over the half plane, squared-normalised (sum of squares = 1)."""
    if n <= 1:
        fy, _ = _grid(shape)
        return np.ones((1,) + fy.shape)
    p = _pseudo_angle(shape).astype(np.float32)
    delta = 4.0 / n
    b = np.empty((n,) + p.shape, np.float32)
    for k in range(n):
        d = np.abs(np.mod(p - np.float32((k + 0.5) * delta) + np.float32(2.0), np.float32(4.0)) - np.float32(2.0))
        b[k] = _nu((np.float32((1.0 + overlap) * delta / 2.0) - d) / np.float32(overlap * delta))
    norm = np.sqrt(np.sum(b * b, axis=0))
    return b / np.where(norm > 0, norm, np.float32(1.0))


@lru_cache(maxsize=6)
def _frame(shape: tuple[int, int], directions: tuple[int, ...]) -> Frame:
    low, radial = _radial(shape, len(directions))
    bands = []
    for rad, n in zip(radial, directions):
        bands.append((rad[None] * _angular(shape, n)).astype(np.float32))
    return Frame(shape, low.astype(np.float32), tuple(bands))


@dataclasses.dataclass
class FrameCoefficients:
    """Low-pass band ``(H, W)`` and per scale (coarse to fine) a stack ``(n_s, H, W)`` of real bands."""

    lowpass: np.ndarray
    bands: list[np.ndarray]
    directions: tuple[int, ...]
    crop: tuple[int, int, int, int]


def _odd_fast_len(n: int) -> int:
    """Smallest odd 3-5-7-smooth length >= n.

    Odd sizes have no Nyquist row/column, whose windows could not be made
    symmetric under ``xi -> -xi``; without them every band is exactly real.
    """
    m = n + 1 - n % 2
    while True:
        k = m
        for f in (3, 5, 7):
            while k % f == 0:
                k //= f
        if k == 1:
            return m
        m += 2


def _pad(img: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    h, w = img.shape
    hp = _odd_fast_len(h + 2 * _MARGIN)
    wp = _odd_fast_len(w + 2 * _MARGIN)
    top, left = (hp - h) // 2, (wp - w) // 2
    pad = np.pad(img, ((top, hp - h - top), (left, wp - w - left)), mode="symmetric")
    return pad, (top, left, h, w)


def frame_forward(img: np.ndarray, directions: tuple[int, ...]) -> FrameCoefficients:
    """Analyse ``img`` with the frame of ``directions`` (bands per scale, coarse to fine; 1 = isotropic)."""
    x = np.asarray(img, np.float32)
    pad, crop = _pad(x)
    fr = _frame(pad.shape, tuple(int(d) for d in directions))
    spec = sfft.rfft2(pad, workers=_WORKERS)
    low = sfft.irfft2(spec * fr.lowpass, s=pad.shape, workers=_WORKERS).astype(np.float32)
    bands = [
        sfft.irfft2(spec[None] * win, s=pad.shape, axes=(-2, -1), workers=_WORKERS).astype(np.float32)
        for win in fr.bands
    ]
    return FrameCoefficients(low, bands, tuple(directions), crop)


def frame_inverse(coef: FrameCoefficients) -> np.ndarray:
    """Exact synthesis of :func:`frame_forward` (adjoint = inverse for a Parseval frame), cropped."""
    shape = coef.lowpass.shape
    fr = _frame(shape, tuple(int(d) for d in coef.directions))
    spec = sfft.rfft2(coef.lowpass, workers=_WORKERS) * fr.lowpass
    for b, win in zip(coef.bands, fr.bands):
        spec += np.sum(sfft.rfft2(b, axes=(-2, -1), workers=_WORKERS) * win, axis=0)
    out = sfft.irfft2(spec, s=shape, workers=_WORKERS)
    top, left, h, w = coef.crop
    return out[top : top + h, left : left + w].astype(np.float32)


def nsst_directions(dcomp: tuple[int, ...]) -> tuple[int, ...]:
    """NSST toolbox convention: ``2**dcomp[s]`` directional bands at scale ``s`` (coarse to fine)."""
    return tuple(2 ** int(d) for d in dcomp)


def nsst_forward(img: np.ndarray, dcomp: tuple[int, ...] = (3, 3, 4, 4)) -> FrameCoefficients:
    """Non-subsampled shearlet transform with ``2**dcomp`` shear directions per scale (coarse to fine)."""
    return frame_forward(img, nsst_directions(dcomp))


def curvelet_directions(n_scales: int, nbangles_coarse: int = 16, finest_wavelet: bool = True) -> tuple[int, ...]:
    """Real directional bands per detail scale (coarse to fine) of the FDCT schedule.

    ``n_scales`` counts the coarsest (low-pass) scale, as CurveLab's
    ``nbscales``; scale ``s`` (2 = coarsest detail) has
    ``nbangles_coarse * 2**ceil((s - 2) / 2)`` wedges over the full plane,
    i.e. half as many real bands.
    """
    dirs = []
    for s in range(2, n_scales + 1):
        full = nbangles_coarse * 2 ** int(np.ceil((s - 2) / 2))
        dirs.append(max(1, full // 2))
    if finest_wavelet and dirs:
        dirs[-1] = 1
    return tuple(dirs)


def curvelet_forward(img: np.ndarray, n_scales: int = 5, nbangles_coarse: int = 16) -> FrameCoefficients:
    """Curvelet frame (FDCT tiling, wavelets at the finest scale), not subsampled."""
    return frame_forward(img, curvelet_directions(n_scales, nbangles_coarse))
