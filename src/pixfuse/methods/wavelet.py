"""Wavelet-family fusion: DWT, SWT, DTCWT, curvelet and shearlet frames, MSVD."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pywt

from ..errors import ParameterError
from ..ops.directional import curvelet_forward, frame_inverse, nsst_forward
from ..ops.rules import decision_consistent, select_consistent, select_max_abs, take
from ..ops.wavelets import (
    dtcwt_forward,
    dtcwt_inverse,
    dwt_decompose,
    dwt_reconstruct,
    max_dwt_levels,
    msvd_forward,
    msvd_inverse,
    swt_decompose,
    swt_reconstruct,
)
from ..registry import Param, register_method
from ._util import stack

_TASKS = ("ivif", "medical", "multi_focus")


def _check_wavelet(name: str) -> str:
    if name not in pywt.wavelist(kind="discrete"):
        raise ParameterError(f"parameter 'wavelet': unknown discrete wavelet {name!r} (see pywt.wavelist(kind='discrete'))")
    return name


def _check_odd(name: str, v: int) -> None:
    if v % 2 == 0:
        raise ParameterError(f"parameter {name!r} must be odd, got {v}")


def parse_ints(value: object, name: str) -> tuple[int, ...]:
    """Parse a comma-separated list of non-negative integers (or a sequence)."""
    try:
        if isinstance(value, str):
            vals = tuple(int(v) for v in value.replace(";", ",").split(",") if v.strip())
        else:
            vals = tuple(int(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ParameterError(f"parameter {name!r}: cannot parse {value!r} as integers") from None
    if not vals or any(v < 0 or v > 6 for v in vals):
        raise ParameterError(f"parameter {name!r} needs 1+ integers in [0, 6], got {value!r}")
    return vals


def _li_rule(window: int, verify: bool):
    return lambda b: select_consistent(b, window, verify)


@register_method(
    "dwt",
    tasks=_TASKS,
    n_inputs=(2, None),
    color="luminance",
    params={
        "wavelet": Param("db2", "PyWavelets discrete wavelet (db2 = Daubechies' 4-tap D4)", str),
        "levels": Param(3, "decomposition levels (limited by the image size)", int, 1, 8),
        "window": Param(3, "area of the maximum-activity measure and of the consistency check (odd)", int, 1, 9),
        "verify": Param(True, "apply consistency verification (majority filter of the decision map)", bool),
    },
    citation=(
        "H. Li, B. S. Manjunath and S. K. Mitra, 'Multisensor image fusion using the wavelet "
        "transform', Graphical Models and Image Processing 57(3):235-245, 1995."
    ),
    aliases=("dwt-fusion",),
)
def dwt(images: Sequence[np.ndarray], *, wavelet: str = "db2", levels: int = 3, window: int = 3,
        verify: bool = True) -> np.ndarray:
    """Discrete-wavelet fusion of Li, Manjunath & Mitra: area-based maximum selection + consistency check.

    Each source is decomposed by a ``levels``-level 2-D DWT.  In every detail
    sub-band the activity of a coefficient is the largest magnitude in a
    ``window`` x ``window`` area; the source of highest activity is chosen
    and the binary decision map is majority filtered (consistency
    verification).  The approximation bands are averaged.

    Parameters
    ----------
    images : sequence of HxW float32 arrays in [0, 1]
    wavelet : str
        Wavelet name (PyWavelets).
    levels : int
        Decomposition levels.
    window : int
        Odd side of the activity / verification window (3 in the paper).
    verify : bool
        Consistency verification on/off.

    Returns
    -------
    HxW float32 fused image.

    References
    ----------
    H. Li, B. S. Manjunath and S. K. Mitra, "Multisensor image fusion using the
    wavelet transform", Graphical Models and Image Processing 57(3):235-245, 1995.
    """
    _check_wavelet(wavelet)
    _check_odd("window", window)
    lev = max(1, min(levels, max_dwt_levels(images[0].shape, wavelet)))
    cs = [dwt_decompose(im, wavelet, lev) for im in images]
    rule = _li_rule(window, verify)
    fused: list = [np.mean([c[0] for c in cs], axis=0)]
    for k in range(1, lev + 1):
        fused.append(tuple(rule(np.stack([c[k][d] for c in cs])) for d in range(3)))
    return dwt_reconstruct(fused, wavelet, images[0].shape)


@register_method(
    "swt",
    tasks=_TASKS,
    n_inputs=(2, None),
    color="luminance",
    params={
        "wavelet": Param("db2", "PyWavelets discrete wavelet", str),
        "levels": Param(3, "decomposition levels", int, 1, 6),
        "window": Param(3, "area of the maximum-activity measure and of the consistency check (odd)", int, 1, 9),
        "verify": Param(True, "apply consistency verification", bool),
    },
    citation=(
        "H. Li, B. S. Manjunath and S. K. Mitra, Graphical Models and Image Processing 57(3):235-245, "
        "1995 (fusion rule); G. P. Nason and B. W. Silverman, 'The stationary wavelet transform and some "
        "statistical applications', Lecture Notes in Statistics 103:281-299, 1995 (transform)."
    ),
    aliases=("sidwt", "swt-fusion"),
)
def swt(images: Sequence[np.ndarray], *, wavelet: str = "db2", levels: int = 3, window: int = 3,
        verify: bool = True) -> np.ndarray:
    """Stationary (shift-invariant) wavelet fusion with the Li-Manjunath-Mitra rule.

    Same rule as :func:`dwt` (area-based maximum activity, consistency
    verification, averaged approximation) on the undecimated transform, which
    avoids the shift-variance artefacts of the decimated DWT.

    Parameters
    ----------
    images : sequence of HxW float32 arrays in [0, 1]
    wavelet, levels, window, verify : see :func:`dwt`.

    Returns
    -------
    HxW float32 fused image.

    References
    ----------
    H. Li, B. S. Manjunath and S. K. Mitra, "Multisensor image fusion using the
    wavelet transform", Graphical Models and Image Processing 57(3):235-245, 1995.
    G. P. Nason and B. W. Silverman, "The stationary wavelet transform and some
    statistical applications", Lecture Notes in Statistics 103:281-299, 1995.
    """
    _check_wavelet(wavelet)
    _check_odd("window", window)
    decs = [swt_decompose(im, wavelet, levels) for im in images]
    cs = [d[0] for d in decs]
    rule = _li_rule(window, verify)
    fused: list = [np.mean([c[0] for c in cs], axis=0)]
    for k in range(1, levels + 1):
        fused.append(tuple(rule(np.stack([c[k][d] for c in cs])) for d in range(3)))
    return swt_reconstruct(fused, wavelet, decs[0][1])


@register_method(
    "dtcwt",
    tasks=_TASKS,
    n_inputs=(2, None),
    color="luminance",
    params={
        "levels": Param(4, "decomposition levels", int, 1, 8),
        "window": Param(1, "odd window of the area-based activity and consistency check; 1 = per-coefficient maximum magnitude", int, 1, 9),
    },
    citation=(
        "J. J. Lewis, R. J. O'Callaghan, S. G. Nikolov, D. R. Bull and N. Canagarajah, 'Pixel- and "
        "region-based image fusion with complex wavelets', Information Fusion 8(2):119-130, 2007; "
        "transform: N. G. Kingsbury, Applied and Computational Harmonic Analysis 10(3):234-253, 2001."
    ),
    aliases=("cwt", "dt-cwt"),
)
def dtcwt(images: Sequence[np.ndarray], *, levels: int = 4, window: int = 1) -> np.ndarray:
    """Dual-tree complex wavelet fusion (pixel-based rule of Lewis et al.): maximum magnitude, averaged low-pass.

    Each source is decomposed by the 2-D DTCWT (:func:`pixfuse.ops.wavelets.dtcwt_forward`:
    CDF 9/7 first level, Kingsbury Q-shift (14-tap, ``qshift_b``) filters
    beyond); in each of the six oriented complex sub-bands of every level the
    coefficient of largest magnitude is kept (with ``window > 1``, the
    largest magnitude in the window and a majority-filtered decision), the
    low-pass bands are averaged, and the inverse DTCWT applied.

    Parameters
    ----------
    images : sequence of HxW float32 arrays in [0, 1]
    levels : int
        Decomposition levels (limited by the image size).
    window : int
        1: per-coefficient maximum magnitude (the pixel-based rule).

    Returns
    -------
    HxW float32 fused image.

    References
    ----------
    J. J. Lewis et al., "Pixel- and region-based image fusion with complex
    wavelets", Information Fusion 8(2):119-130, 2007.
    """
    _check_odd("window", window)
    m = min(images[0].shape[:2])
    lev = max(1, min(levels, int(np.log2(max(m, 2))) - 2))
    pyrs = [dtcwt_forward(im, lev) for im in images]
    out = pyrs[0]
    out.lowpass = np.mean([p.lowpass for p in pyrs], axis=0)
    for j in range(lev):
        z = np.stack([p.highpasses[j] for p in pyrs])  # (N, 2, 3, h, w)
        n = z.shape[0]
        zf = z.reshape(n, -1, z.shape[-1])  # fold orientations into rows
        mag = np.abs(zf)
        dec = decision_consistent(mag, window, window > 1) if window > 1 else np.argmax(mag, axis=0)
        out.highpasses[j] = take(zf, dec).reshape(z.shape[1:])
    return dtcwt_inverse(out)


def _frame_fuse(coefs: list) -> object:
    out = coefs[0]
    out.lowpass = np.mean([c.lowpass for c in coefs], axis=0)
    for s in range(len(out.bands)):
        b = np.stack([c.bands[s] for c in coefs])  # (N, n_dir, H, W)
        idx = np.argmax(np.abs(b), axis=0)
        out.bands[s] = np.take_along_axis(b, idx[None], axis=0)[0]
    return out


@register_method(
    "cvt",
    tasks=_TASKS,
    n_inputs=(2, None),
    color="luminance",
    params={
        "scales": Param(5, "scales including the coarsest (CurveLab nbscales)", int, 2, 7),
        "angles": Param(16, "wedges at the coarsest directional scale over the full plane (CurveLab nbangles_coarse)", int, 4, 64),
    },
    citation=(
        "F. Nencini, A. Garzelli, S. Baronti and L. Alparone, 'Remote sensing image fusion using the "
        "curvelet transform', Information Fusion 8(2):143-156, 2007; transform: E. Candes, L. Demanet, "
        "D. Donoho and L. Ying, 'Fast discrete curvelet transforms', Multiscale Model. Simul. "
        "5(3):861-899, 2006."
    ),
    aliases=("curvelet",),
)
def cvt(images: Sequence[np.ndarray], *, scales: int = 5, angles: int = 16) -> np.ndarray:
    """Curvelet fusion: maximum-magnitude curvelet coefficients, averaged coarse scale.

    The curvelet frame (:func:`pixfuse.ops.directional.curvelet_forward`)
    follows the frequency tiling of the fast discrete curvelet transform --
    dyadic Cartesian coronae, ``angles`` wedges at the coarsest directional
    scale doubling every second scale, wavelets at the finest scale -- but is
    not subsampled (no wrapping), so it is shift-invariant and exactly
    invertible with FFTs.  Detail coefficients of largest magnitude are kept
    and the coarse scale averaged (the multi-scale rule used for curvelets
    in IVIF benchmarks; Nencini et al. use the curvelet pyramid for
    pansharpening).

    Parameters
    ----------
    images : sequence of HxW float32 arrays in [0, 1]
    scales : int
        Number of scales including the coarsest low-pass (5 = 4 detail scales).
    angles : int
        Full-plane wedge count at the coarsest directional scale (16).

    Returns
    -------
    HxW float32 fused image.

    References
    ----------
    F. Nencini et al., "Remote sensing image fusion using the curvelet
    transform", Information Fusion 8(2):143-156, 2007.
    E. Candes et al., "Fast discrete curvelet transforms", Multiscale Model.
    Simul. 5(3):861-899, 2006.
    """
    if angles % 4:
        raise ParameterError(f"parameter 'angles' must be a multiple of 4, got {angles}")
    coefs = [curvelet_forward(im, scales, angles) for im in images]
    return frame_inverse(_frame_fuse(coefs))


@register_method(
    "nsst",
    tasks=_TASKS,
    n_inputs=(2, None),
    color="luminance",
    params={
        "dcomp": Param("3,3,4,4", "shear levels per scale, coarse to fine: 2**d directions each", str),
    },
    citation=(
        "G. Easley, D. Labate and W.-Q. Lim, 'Sparse directional image representations using the "
        "discrete shearlet transform', Appl. Comput. Harmon. Anal. 25(1):25-46, 2008; fusion rule as "
        "the NSCT fusion of Q. Zhang and B. Guo, 'Multifocus image fusion using the nonsubsampled "
        "contourlet transform', Signal Processing 89(7):1334-1346, 2009."
    ),
    aliases=("shearlet",),
)
def nsst(images: Sequence[np.ndarray], *, dcomp: str = "3,3,4,4") -> np.ndarray:
    """Non-subsampled shearlet fusion: maximum-magnitude directional coefficients, averaged low-pass.

    Each source is decomposed by the NSST
    (:func:`pixfuse.ops.directional.nsst_forward`, ``len(dcomp)`` scales with
    ``2**dcomp[s]`` shear directions); every directional coefficient is taken
    from the source of largest magnitude and the low-pass bands averaged.

    Parameters
    ----------
    images : sequence of HxW float32 arrays in [0, 1]
    dcomp : str
        Comma-separated shear levels per scale, coarse to fine ("3,3,4,4":
        8, 8, 16, 16 directions, the setting of Yin et al. 2019).

    Returns
    -------
    HxW float32 fused image.

    References
    ----------
    G. Easley, D. Labate and W.-Q. Lim, "Sparse directional image
    representations using the discrete shearlet transform", Appl. Comput.
    Harmon. Anal. 25(1):25-46, 2008.
    """
    dc = parse_ints(dcomp, "dcomp")
    coefs = [nsst_forward(im, dc) for im in images]
    return frame_inverse(_frame_fuse(coefs))


@register_method(
    "msvd",
    tasks=_TASKS,
    n_inputs=(2, None),
    color="luminance",
    params={"levels": Param(1, "MSVD decomposition levels", int, 1, 6)},
    citation=(
        "V. P. S. Naidu, 'Image fusion technique using multi-resolution singular value decomposition', "
        "Defence Science Journal 61(5):479-484, 2011."
    ),
    aliases=("multi-resolution-svd",),
)
def msvd(images: Sequence[np.ndarray], *, levels: int = 1) -> np.ndarray:
    """Multi-resolution SVD fusion (Naidu 2011): maximum-magnitude details, averaged approximation and bases.

    Each source is decomposed by the MSVD (eigenvectors ``U`` of the 2x2
    block scatter matrix, :func:`pixfuse.ops.wavelets.msvd_forward`); detail
    coefficients of larger magnitude are kept, approximations averaged, the
    ``U`` matrices averaged, and the inverse MSVD applied.

    Parameters
    ----------
    images : sequence of HxW float32 arrays in [0, 1]
    levels : int
        Decomposition levels (1 in the paper's experiments).

    Returns
    -------
    HxW float32 fused image.

    References
    ----------
    V. P. S. Naidu, "Image fusion technique using multi-resolution singular
    value decomposition", Defence Science Journal 61(5):479-484, 2011.
    """
    m = min(images[0].shape[:2])
    lev = max(1, min(levels, int(np.log2(m)) - 2))
    decs = [msvd_forward(im, lev) for im in images]
    approx = np.mean([d[0] for d in decs], axis=0)
    levs = decs[0][1]
    for k in range(lev):
        levs[k].u = np.mean([d[1][k].u for d in decs], axis=0)
        levs[k].details = select_max_abs(np.stack([d[1][k].details for d in decs]).reshape(len(decs), -1, levs[k].details.shape[-1])).reshape(levs[k].details.shape)
    return msvd_inverse(approx, levs, decs[0][2])
