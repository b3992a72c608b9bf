"""Reference-based (reduced-resolution) and no-reference (full-resolution) spectral quality indices.

Every index reproduces the MATLAB pansharpening toolbox of Vivone et al. (2021
version, ``Quality_Indices/`` and ``Tools/indexes_evaluation*.m``), whose
conventions are:

* Images are compared in their **native units** (digital numbers, e.g. 0..2047 for
  11-bit data), HxWxB arrays; no rescaling to [0, 1].
* Reduced resolution (``indexes_evaluation.m``): a border of ``cut`` = 21 pixels is
  removed first, ``I(21:end-21, 21:end-21, :)`` in MATLAB, i.e. ``[20:-21, 20:-21]``
  (pass ``cut=0`` to score the whole image); fused values are not clipped
  (``thvalues = 0``).
* Q2n casts both images to uint16 (round half away from zero, negatives to 0,
  saturation at 65535) — the data must therefore be in DN units, not in [0, 1].
* Full resolution (``indexes_evaluation_FS.m``, ``HQNR.m``): ``sources = [pan, ms]``
  with the *original low-resolution* MS; the MS interpolated to the PAN grid with
  :func:`pixfuse.ops.resample.interp23tap` plays the toolbox's ``I_MS``; blocks of
  S = 32 (image sides must be multiples of 32, as the toolbox requires); p = q = 1.

Keyword options (``ratio``, ``sensor``, ``cut``, ``block`` ...) reach the metrics
through ``pixfuse.evaluate(..., options={...})``.

References
----------
G. Vivone, M. Dalla Mura, A. Garzelli, R. Restaino, G. Scarpa, M. O. Ulfarsson, L. Alparone,
J. Chanussot, "A new benchmarking of pansharpening methods", IEEE Geoscience and Remote Sensing
Magazine 9(1):53-81, 2021 (toolbox). G. Vivone et al., "A critical comparison among pansharpening
algorithms", IEEE TGRS 53(5):2565-2586, 2015.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import ndimage

from ..errors import InputError, ParameterError
from ..ops.mtf import mtf_filter
from ..ops.resample import imresize, interp23tap
from ..registry import register_metric
from ._common import gauss1d

__all__ = [
    "q2n_index", "q_avg", "sam_index", "ergas_index", "scc_index", "psnr_index", "ssim_index",
    "reference_scores", "REFERENCE_INDICES",
    "d_lambda_index", "d_s_index", "d_lambda_khan_index", "qnr_values",
]

_TASKS = ("pansharpening", "hsi_msi")
_TOOLBOX = "Vivone et al. pansharpening toolbox 2021 (Quality_Indices/*.m)"
_VIVONE21 = ("G. Vivone et al., 'A New Benchmarking of Pansharpening Methods', IEEE Geoscience and "
             "Remote Sensing Magazine 9(1):53-81, 2021")

# ----------------------------------------------------------------------- helpers


def _as_cube(x: Any, name: str) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype == object or a.dtype.kind not in "biuf":
        raise InputError(f"{name}: unsupported dtype {a.dtype}")
    a = a.astype(np.float64)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3:
        raise InputError(f"{name}: expected an HxW or HxWxB array, got shape {a.shape}")
    return a


def _pair(fused: Any, reference: Any, cut: int) -> tuple[np.ndarray, np.ndarray]:
    if reference is None:
        raise InputError("this index needs a reference image (the ground-truth MS)")
    f = _as_cube(fused, "fused")
    r = _as_cube(reference, "reference")
    if f.shape != r.shape:
        raise InputError(f"fused {f.shape} and reference {r.shape} must have the same shape")
    if not np.isfinite(f).all() or not np.isfinite(r).all():
        raise InputError("fused or reference contains NaN or infinite values")
    return _crop(f, cut), _crop(r, cut)


def _crop(a: np.ndarray, cut: int) -> np.ndarray:
    """Remove the toolbox border: ``I(cut:end-cut, cut:end-cut, :)`` in MATLAB, ``[cut-1:-cut]`` here.

    ``cut = 0`` keeps the whole image (the hyperspectral convention)."""
    cut = int(cut)
    if cut < 0:
        raise ParameterError(f"cut must be >= 0, got {cut}")
    if not cut:
        return a
    if a.shape[0] <= 2 * cut + 1 or a.shape[1] <= 2 * cut + 1:
        raise InputError(f"image of {a.shape[0]}x{a.shape[1]} is too small for a border cut of {cut} "
                         "(pass cut=0)")
    return a[cut - 1:-cut, cut - 1:-cut]


def _cubes(reference: Any, fused: Any, cut: int) -> tuple[np.ndarray, np.ndarray]:
    """Both images as float64 HxWxB with the border cut applied (the ``*_index`` functions)."""
    gt = _as_cube(reference, "reference")
    fu = _as_cube(fused, "fused")
    if gt.shape != fu.shape:
        raise InputError(f"fused {fu.shape} and reference {gt.shape} must have the same shape")
    return _crop(gt, cut), _crop(fu, cut)


def _to_uint16(x: np.ndarray) -> np.ndarray:
    """MATLAB uint16(): round half away from zero, saturate to [0, 65535], NaN -> 0."""
    y = np.clip(x, 0.0, 65535.0)
    if np.isnan(y).any():
        y = np.nan_to_num(y, nan=0.0)
    np.floor(y + 0.5, out=y)
    return y


def _onion_mult(o1: np.ndarray, o2: np.ndarray) -> np.ndarray:
    """Hypercomplex (Cayley-Dickson) product along the last axis (``onion_mult*.m``)."""
    n = o1.shape[-1]
    if n == 1:
        return o1 * o2
    h = n // 2

    def conj(v: np.ndarray) -> np.ndarray:
        return np.concatenate([v[..., :1], -v[..., 1:]], axis=-1)

    a, b = o1[..., :h], conj(o1[..., h:])
    c, d = o2[..., :h], conj(o2[..., h:])
    if n == 2:
        return np.concatenate([a * c - d * b, a * d + c * b], axis=-1)
    r1 = _onion_mult(a, c)
    r2 = _onion_mult(d, conj(b))
    r3 = _onion_mult(conj(a), d)
    r4 = _onion_mult(c, b)
    return np.concatenate([r1 - r2, r3 + r4], axis=-1)


_MULT_TABLES: dict[int, np.ndarray] = {}


def _mult_table(n: int) -> np.ndarray:
    """T[k, i, j] with (x*y)_k = sum_ij T[k,i,j] x_i y_j for the onion product of size n."""
    if n not in _MULT_TABLES:
        e = np.eye(n)
        t = np.zeros((n, n, n))
        for i in range(n):
            for j in range(n):
                t[:, i, j] = _onion_mult(e[i], e[j])
        _MULT_TABLES[n] = t
    return _MULT_TABLES[n]


def _onions_quality(g: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Hypercomplex Q of many blocks at once (``onions_quality.m``).

    g, f: uint16-cast reference and fused blocks, shape (nblocks, npix, N) (f not yet
    conjugated).  Returns q of shape (nblocks, N).  The toolbox normalises every band of
    both blocks with the reference band's mean s and sample std t (t = eps when 0; when
    s == 0 the fused band is only shifted by 1 - s), conjugates the fused vector
    (negates bands 2..N), then averages hypercomplex products over the block.  All the
    block averages of those affine-normalised values are obtained here exactly from the
    block means and centred (co)variances, which avoids full-size temporaries.
    """
    nb, npix, n = g.shape
    k = npix / (npix - 1)
    mug = g.mean(axis=1)
    muf = f.mean(axis=1)
    x = np.concatenate([g - mug[:, None, :], f - muf[:, None, :]], axis=2)
    cov = np.matmul(x.transpose(0, 2, 1), x) / npix          # population (co)variances, (nb, 2N, 2N)
    cgg = cov[:, :n, :n]
    cff = cov[:, n:, n:]
    cgf = cov[:, :n, n:]
    s = mug
    t = np.sqrt(np.einsum("bii->bi", cgg) * k)
    t = np.where(t == 0, np.finfo(np.float64).eps, t)
    a_g = 1.0 / t
    m1 = (mug - s) * a_g + 1.0
    zero = s == 0
    a_f = np.where(zero, 1.0, a_g)
    b_f = np.where(zero, 1.0 - s, 1.0 - s * a_g)
    sign = np.ones(n)
    sign[1:] = -1.0
    c = a_f * muf + b_f
    m2 = sign * c
    mod_q1m2 = (m1 ** 2).sum(axis=1)
    mod_q2m2 = (m2 ** 2).sum(axis=1)
    int1 = k * (a_g ** 2 * np.einsum("bii->bi", cgg) + m1 ** 2).sum(axis=1)
    int2 = k * (a_f ** 2 * np.einsum("bii->bi", cff) + c ** 2).sum(axis=1)
    termine2 = np.sqrt(mod_q1m2) * np.sqrt(mod_q2m2)
    termine4 = mod_q1m2 + mod_q2m2
    termine3 = int1 + int2 - k * (mod_q1m2 + mod_q2m2)
    # block means of g'_i * f'_j
    mij = (a_g[:, :, None] * (a_f * sign)[:, None, :]) * cgf + m1[:, :, None] * m2[:, None, :]
    t3 = _mult_table(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_bias = 2 * termine2 / termine4
        qu_mean = np.einsum("kij,bij->bk", t3, mij)
        qm = _onion_mult(m1, m2)
        q = k * qu_mean - k * qm
        q = q * (mean_bias * 2 / termine3)[:, None]
    flat = termine3 == 0
    if flat.any():
        q[flat] = 0
        q[flat, -1] = mean_bias[flat]
    return q


def q2n_index(reference: np.ndarray, fused: np.ndarray, block: int = 32, shift: int | None = None, *,
              cut: int = 0) -> float:
    """Q2n of two HxWxB cubes (``q2n.m``), after a border ``cut`` (default none); see :func:`q2n`."""
    gt, fu = _cubes(reference, fused, cut)
    shift = block if shift is None else shift
    if shift != block:
        raise ParameterError("only non-overlapping blocks (shift == block) are implemented")
    n1, n2, _ = gt.shape
    stepx = -(-n1 // shift)
    stepy = -(-n2 // shift)
    est1 = (stepx - 1) * shift + block - n1
    est2 = (stepy - 1) * shift + block - n2
    if est1 > n1 or est2 > n2:
        raise InputError(f"image of {n1}x{n2} is too small for Q2n blocks of {block}")
    if est1 or est2:
        pad = ((0, est1), (0, est2), (0, 0))
        gt = np.pad(gt, pad, mode="symmetric")
        fu = np.pad(fu, pad, mode="symmetric")
    gt = _to_uint16(gt)
    fu = _to_uint16(fu)
    nb = gt.shape[2]
    n3 = 1 << int(np.ceil(np.log2(nb))) if nb > 1 else 1
    if n3 != nb:
        z = np.zeros(gt.shape[:2] + (n3 - nb,))
        gt = np.concatenate([gt, z], axis=2)
        fu = np.concatenate([fu, z], axis=2)
    h, w = gt.shape[:2]

    def blocks(a: np.ndarray) -> np.ndarray:
        a = a.reshape(h // block, block, w // block, block, n3).transpose(0, 2, 1, 3, 4)
        return a.reshape(-1, block * block, n3)

    q = _onions_quality(blocks(gt), blocks(fu))
    qmap = np.sqrt((q ** 2).sum(axis=1))
    return float(qmap.mean())


def _box_sum(a: np.ndarray, k: int) -> np.ndarray:
    """Sums over all k x k windows ('valid'), exact-ish via integral image of float64."""
    c = np.cumsum(np.cumsum(a, axis=0), axis=1)
    c = np.pad(c, ((1, 0), (1, 0)))
    return c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]


def _img_qi(x: np.ndarray, y: np.ndarray, block: int) -> float:
    """UIQI of Wang & Bovik with a sliding block (``img_qi.m``): mean of the 'valid' map."""
    if x.shape[0] < block or x.shape[1] < block:
        raise InputError(f"image of {x.shape[0]}x{x.shape[1]} is smaller than the Q block {block}")
    n = float(block * block)
    # centre by global means for numerical accuracy; UIQI terms are recombined exactly
    mx, my = float(x.mean()), float(y.mean())
    xc, yc = x - mx, y - my
    sx, sy = _box_sum(xc, block), _box_sum(yc, block)
    sxx, syy, sxy = _box_sum(xc * xc, block), _box_sum(yc * yc, block), _box_sum(xc * yc, block)
    s1, s2 = sx + n * mx, sy + n * my
    cov_n2 = n * sxy - sx * sy           # = N*sum(xy) - sum(x)sum(y), shift invariant
    var_n2 = n * (sxx + syy) - sx * sx - sy * sy
    s12 = s1 * s2
    sq = s1 * s1 + s2 * s2
    num = 4 * cov_n2 * s12
    den = var_n2 * sq
    qmap = np.ones_like(den)
    idx = (var_n2 == 0) & (sq != 0)
    qmap[idx] = 2 * s12[idx] / sq[idx]
    idx = den != 0
    qmap[idx] = num[idx] / den[idx]
    return float(qmap.mean())


def q_avg(reference: np.ndarray, fused: np.ndarray, block: int = 32, *, cut: int = 0) -> float:
    """UIQI (Wang & Bovik) on sliding ``block`` windows averaged over positions then bands (``Q.m``).

    ``cut``: border removed first (default none; 21 in the pansharpening toolbox)."""
    gt, fu = _cubes(reference, fused, cut)
    return float(np.mean([_img_qi(gt[:, :, b], fu[:, :, b], block) for b in range(gt.shape[2])]))


def sam_index(reference: np.ndarray, fused: np.ndarray, *, cut: int = 0) -> float:
    """Mean spectral angle in degrees (``SAM.m``); pixels with a zero norm product excluded.

    ``cut``: border removed first (default none)."""
    gt, fu = _cubes(reference, fused, cut)
    prod = (gt * fu).sum(axis=2)
    norm = np.sqrt((gt * gt).sum(axis=2) * (fu * fu).sum(axis=2))
    ok = norm != 0
    if not ok.any():
        return 0.0
    ang = np.arccos(np.clip(prod[ok] / norm[ok], -1.0, 1.0))
    return float(ang.mean() * 180.0 / np.pi)


def ergas_index(reference: np.ndarray, fused: np.ndarray, ratio: float = 4, *, cut: int = 0) -> float:
    """ERGAS = 100/ratio * sqrt(mean_b(MSE_b / mean(GT_b)^2)) (``ERGAS.m``); ``cut``: border (default none)."""
    gt, fu = _cubes(reference, fused, cut)
    mse = ((gt - fu) ** 2).mean(axis=(0, 1))
    mu = gt.mean(axis=(0, 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = mse / mu ** 2
    return float(100.0 / ratio * np.sqrt(terms.mean()))


_SOBEL = np.array([[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]])


def _sobel_mag(a: np.ndarray) -> np.ndarray:
    inner = a[1:-1, 1:-1]
    out = np.empty(inner.shape)
    for b in range(a.shape[2]):
        gy = ndimage.correlate(inner[:, :, b], _SOBEL, mode="constant", cval=0.0)
        gx = ndimage.correlate(inner[:, :, b], _SOBEL.T, mode="constant", cval=0.0)
        out[:, :, b] = np.sqrt(gy * gy + gx * gx)
    return out


def scc_index(reference: np.ndarray, fused: np.ndarray, *, cut: int = 0) -> float:
    """Spatial correlation coefficient (``SCC.m``): non-centred correlation of Sobel magnitudes.

    ``cut``: border removed first (default none)."""
    gt, fu = _cubes(reference, fused, cut)
    ef, eg = _sobel_mag(fu), _sobel_mag(gt)
    den = np.sqrt((ef ** 2).sum()) * np.sqrt((eg ** 2).sum())
    return float((ef * eg).sum() / den) if den > 0 else float("nan")


def psnr_index(reference: np.ndarray, fused: np.ndarray, peak: float | None = None, *, cut: int = 0) -> float:
    """Mean over bands of ``10 log10(peak_b^2 / MSE_b)`` (dB); ``peak_b`` = max of the reference band
    unless ``peak`` is given; ``inf`` where a band is reproduced exactly.  ``cut``: border (default none)."""
    gt, fu = _cubes(reference, fused, cut)
    mse = ((fu - gt) ** 2).mean(axis=(0, 1))
    pk = gt.max(axis=(0, 1)) if peak is None else np.full(gt.shape[2], float(peak))
    with np.errstate(divide="ignore"):
        vals = 10 * np.log10(pk ** 2 / mse)
    return float(np.mean(vals))


def ssim_index(reference: np.ndarray, fused: np.ndarray, data_range: float | None = None, *,
               cut: int = 0) -> float:
    """Mean over bands of SSIM (Wang et al. 2004, ``ssim_index.m`` defaults: 11x11 Gaussian window,
    sigma 1.5, K = (0.01, 0.03), 'valid' map averaged).

    ``data_range``: the dynamic range L (default: max - min of the reference cube; 1 for data in
    [0, 1] as the hyperspectral protocol passes).  ``cut``: border removed first (default none).
    """
    gt, fu = _cubes(reference, fused, cut)
    if min(gt.shape[:2]) < 11:
        raise InputError("SSIM needs images of at least 11x11 pixels")
    dr = float(gt.max() - gt.min()) if data_range is None else float(data_range)
    if dr <= 0:
        dr = 1.0
    return float(np.mean([_ssim_band(fu[:, :, b], gt[:, :, b], dr) for b in range(gt.shape[2])]))


#: Names accepted by :func:`reference_scores`.
REFERENCE_INDICES = ("Q2n", "Q", "SAM", "ERGAS", "SCC", "PSNR", "SSIM", "UIQI")


def reference_scores(reference: np.ndarray, fused: np.ndarray, *, ratio: float = 4, cut: int = 0,
                     indices: tuple[str, ...] = ("Q2n", "SAM", "ERGAS"), block: int = 32,
                     data_range: float | None = None, peak: float | None = None) -> dict[str, float]:
    """Several reference-based indices of one fused image, one border cut for all.

    Parameters
    ----------
    reference, fused : HxWxB cubes (same shape, native units).
    ratio : resolution ratio for ERGAS.
    cut : border removed first — 21 for the pansharpening toolbox's reduced-resolution protocol
        (``indexes_evaluation.m``), 0 for the hyperspectral protocol (whole image).
    indices : any of :data:`REFERENCE_INDICES` ("UIQI" and "Q" are the same index: sliding-window
        UIQI averaged over bands).
    block : Q2n block / Q window (32).  data_range : SSIM dynamic range.  peak : PSNR peak.

    Returns
    -------
    dict index name -> value.
    """
    gt, fu = _cubes(reference, fused, cut)
    fns = {
        "Q2n": lambda: q2n_index(gt, fu, block),
        "Q": lambda: q_avg(gt, fu, block),
        "UIQI": lambda: q_avg(gt, fu, block),
        "SAM": lambda: sam_index(gt, fu),
        "ERGAS": lambda: ergas_index(gt, fu, ratio),
        "SCC": lambda: scc_index(gt, fu),
        "PSNR": lambda: psnr_index(gt, fu, peak),
        "SSIM": lambda: ssim_index(gt, fu, data_range),
    }
    unknown = [k for k in indices if k not in fns]
    if unknown:
        raise ParameterError(f"unknown index {unknown[0]!r}; known: {', '.join(REFERENCE_INDICES)}")
    return {k: fns[k]() for k in indices}


# ----------------------------------------------------------------- registered: reduced resolution

_CUT_DOC = "border cut 21 ([20:-21]) unless cut= is given"


@register_metric("q2n", higher_is_better=True, needs="reference", tasks=_TASKS,
                 convention=f"toolbox q2n.m: uint16 cast, 32x32 blocks, bands zero-padded to 2^k; {_CUT_DOC}",
                 citation="A. Garzelli, F. Nencini, 'Hypercomplex quality assessment of multi/hyperspectral images', "
                          "IEEE GRSL 6(4):662-665, 2009; " + _VIVONE21,
                 display="Q2n", aliases=("q4", "q8", "q2^n"))
def q2n(fused: Any, sources: Sequence[Any], reference: Any = None, *, block: int = 32, cut: int = 21) -> float:
    """Q2n (Q4 for 4 bands, Q8 for 8 bands): hypercomplex universal image quality index.

    Parameters
    ----------
    fused, reference : HxWxB arrays in native units (DN); ``sources`` is unused.
    block : block size and shift (32).
    cut : border removed before scoring (21 as the toolbox demos; 0 for none).

    Returns
    -------
    float in [0, 1] (1 = identical).

    Notes
    -----
    As ``q2n.m``: both images are mirror-padded to a multiple of the block, cast to
    uint16 (so fractional and negative values are rounded/clipped: use DN units),
    padded with zero bands to a power-of-two band count; per 32x32 block the
    hypercomplex Q is computed (each band normalised by the reference block's mean
    and sample std) and the index is the mean over blocks of its modulus.

    References
    ----------
    A. Garzelli, F. Nencini, IEEE GRSL 6(4):662-665, 2009. G. Vivone et al., IEEE GRSM 9(1), 2021.
    """
    f, r = _pair(fused, reference, cut)
    return q2n_index(r, f, block)


@register_metric("q", higher_is_better=True, needs="reference", tasks=_TASKS,
                 convention=f"toolbox Q.m/img_qi.m: per-band UIQI, sliding 32x32 'valid' window, mean; {_CUT_DOC}",
                 citation="Z. Wang, A. C. Bovik, 'A universal image quality index', IEEE SPL 9(3):81-84, 2002; "
                          + _VIVONE21, display="Q", aliases=("q_avg", "uiqi_bands"))
def q(fused: Any, sources: Sequence[Any], reference: Any = None, *, block: int = 32, cut: int = 21) -> float:
    """Q_avg: Wang-Bovik UIQI per band (sliding ``block`` window, 'valid'), averaged over positions and bands.

    Parameters
    ----------
    fused, reference : HxWxB arrays (native units; no cast).
    block : window side (32).  cut : border removed first (21).

    Returns
    -------
    float in [-1, 1].

    References
    ----------
    Z. Wang, A. C. Bovik, IEEE SPL 9(3), 2002; G. Vivone et al., IEEE GRSM 9(1), 2021 (``Q.m``).
    """
    f, r = _pair(fused, reference, cut)
    return q_avg(r, f, block)


@register_metric("sam", higher_is_better=False, needs="reference", tasks=_TASKS,
                 convention=f"toolbox SAM.m: mean angle in degrees, zero-norm pixels excluded; {_CUT_DOC}",
                 citation="R. H. Yuhas, A. F. H. Goetz, J. W. Boardman, 'Discrimination among semi-arid landscape "
                          "endmembers using the SAM algorithm', JPL Airborne Geoscience Workshop, 1992; " + _VIVONE21,
                 display="SAM")
def sam(fused: Any, sources: Sequence[Any], reference: Any = None, *, cut: int = 21) -> float:
    """Spectral Angle Mapper: mean over pixels of the angle between reference and fused spectra, degrees.

    Parameters
    ----------
    fused, reference : HxWxB arrays.  cut : border removed first (21).

    Returns
    -------
    float >= 0 (0 = identical spectral directions).

    References
    ----------
    Yuhas et al. 1992; G. Vivone et al., IEEE GRSM 9(1), 2021 (``SAM.m``).
    """
    f, r = _pair(fused, reference, cut)
    return sam_index(r, f)


@register_metric("ergas", higher_is_better=False, needs="reference", tasks=_TASKS,
                 convention=f"toolbox ERGAS.m: 100/ratio*sqrt(mean_b MSE_b/mean(GT_b)^2), ratio=4; {_CUT_DOC}",
                 citation="T. Ranchin, L. Wald, 'Fusion of high spatial and spectral resolution images: the ARSIS "
                          "concept and its implementation', PE&RS 66(1):49-61, 2000; " + _VIVONE21, display="ERGAS")
def ergas(fused: Any, sources: Sequence[Any], reference: Any = None, *, ratio: float = 4, cut: int = 21) -> float:
    """ERGAS (relative dimensionless global error in synthesis).

    Parameters
    ----------
    fused, reference : HxWxB arrays.  ratio : PAN/MS resolution ratio (4).  cut : border (21).

    Returns
    -------
    float >= 0.

    References
    ----------
    Ranchin & Wald, PE&RS 66(1), 2000; G. Vivone et al., IEEE GRSM 9(1), 2021 (``ERGAS.m``).
    """
    f, r = _pair(fused, reference, cut)
    return ergas_index(r, f, ratio)


@register_metric("scc", higher_is_better=True, needs="reference", tasks=_TASKS,
                 convention=f"toolbox SCC.m: Sobel magnitude on X(2:end-1,2:end-1), zero padding, "
                            f"non-centred correlation over all bands; {_CUT_DOC}",
                 citation="J. Zhou, D. L. Civco, J. A. Silander, 'A wavelet transform method to merge Landsat TM and "
                          "SPOT panchromatic data', IJRS 19(4), 1998; " + _VIVONE21, display="SCC")
def scc(fused: Any, sources: Sequence[Any], reference: Any = None, *, cut: int = 21) -> float:
    """Spatial correlation coefficient of the Sobel gradient magnitudes of fused and reference.

    Parameters
    ----------
    fused, reference : HxWxB arrays.  cut : border (21).

    Returns
    -------
    float in [0, 1].

    References
    ----------
    Zhou et al., IJRS 1998; G. Vivone et al., IEEE TGRS 53(5), 2015 and IEEE GRSM 9(1), 2021 (``SCC.m``).
    """
    f, r = _pair(fused, reference, cut)
    return scc_index(r, f)


@register_metric("psnr_ref", higher_is_better=True, needs="reference", tasks=_TASKS,
                 convention=f"mean over bands of 10log10(peak^2/MSE_b), peak = max of the reference band "
                            f"unless peak= is given; {_CUT_DOC}",
                 citation="Q. Huynh-Thu, M. Ghanbari, 'Scope of validity of PSNR in image/video quality assessment', "
                          "Electronics Letters 44(13), 2008", display="PSNR (ref)")
def psnr_ref(fused: Any, sources: Sequence[Any], reference: Any = None, *, peak: float | None = None,
             cut: int = 21) -> float:
    """PSNR against the reference, per band then averaged (hyperspectral convention).

    Parameters
    ----------
    fused, reference : HxWxB arrays.  peak : signal peak (default: max of each reference band;
    e.g. 2**L - 1 for L-bit data).  cut : border (21).

    Returns
    -------
    float in dB; ``inf`` when fused equals reference.

    References
    ----------
    Huynh-Thu & Ghanbari, Electronics Letters 44(13), 2008.
    """
    f, r = _pair(fused, reference, cut)
    return psnr_index(r, f, peak)


@register_metric("rmse_ref", higher_is_better=False, needs="reference", tasks=_TASKS,
                 convention=f"sqrt(mean over all pixels and bands of (F-R)^2), native units; {_CUT_DOC}",
                 citation="L. Wald, 'Data Fusion: Definitions and Architectures', Presses des Mines, 2002",
                 display="RMSE (ref)")
def rmse_ref(fused: Any, sources: Sequence[Any], reference: Any = None, *, cut: int = 21) -> float:
    """Root mean square error against the reference over all pixels and bands (native units).

    Parameters
    ----------
    fused, reference : HxWxB arrays.  cut : border (21).

    Returns
    -------
    float >= 0.

    References
    ----------
    L. Wald, Data Fusion: Definitions and Architectures, 2002.
    """
    f, r = _pair(fused, reference, cut)
    return float(np.sqrt(((f - r) ** 2).mean()))


@register_metric("cc_ref", higher_is_better=True, needs="reference", tasks=_TASKS,
                 convention=f"mean over bands of the Pearson correlation of F_b and R_b; {_CUT_DOC}",
                 citation="L. Wald, 'Data Fusion: Definitions and Architectures', Presses des Mines, 2002",
                 display="CC (ref)")
def cc_ref(fused: Any, sources: Sequence[Any], reference: Any = None, *, cut: int = 21) -> float:
    """Correlation coefficient with the reference, per band then averaged.

    Parameters
    ----------
    fused, reference : HxWxB arrays.  cut : border (21).

    Returns
    -------
    float in [-1, 1]; NaN for a constant band (documented).

    References
    ----------
    L. Wald, Data Fusion: Definitions and Architectures, 2002.
    """
    f, r = _pair(fused, reference, cut)
    vals = []
    for b in range(f.shape[2]):
        x = f[:, :, b].ravel() - f[:, :, b].mean()
        y = r[:, :, b].ravel() - r[:, :, b].mean()
        den = np.sqrt((x * x).sum() * (y * y).sum())
        vals.append((x * y).sum() / den if den > 0 else np.nan)
    return float(np.mean(vals))


def _ssim_band(x: np.ndarray, y: np.ndarray, data_range: float) -> float:
    g = gauss1d(11, 1.5)

    def filt(a: np.ndarray) -> np.ndarray:
        a = ndimage.correlate1d(a, g, axis=0, mode="constant")[5:-5]
        return ndimage.correlate1d(a, g, axis=1, mode="constant")[:, 5:-5]

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mx, my = filt(x), filt(y)
    sxx = filt(x * x) - mx * mx
    syy = filt(y * y) - my * my
    sxy = filt(x * y) - mx * my
    m = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return float(m.mean())


@register_metric("ssim_ref", higher_is_better=True, needs="reference", tasks=_TASKS,
                 convention="mean over bands of SSIM (Wang 2004: 11x11 Gaussian sigma 1.5, K=(0.01,0.03), 'valid'), "
                            f"L = reference max - min unless data_range= is given; {_CUT_DOC}",
                 citation="Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, 'Image quality assessment: from error "
                          "visibility to structural similarity', IEEE TIP 13(4):600-612, 2004", display="SSIM (ref)")
def ssim_ref(fused: Any, sources: Sequence[Any], reference: Any = None, *, data_range: float | None = None,
             cut: int = 21) -> float:
    """SSIM against the reference, computed per band and averaged.

    Parameters
    ----------
    fused, reference : HxWxB arrays.  data_range : dynamic range L (default max - min of the
    reference cube).  cut : border (21).

    Returns
    -------
    float <= 1 (1 = identical).

    References
    ----------
    Z. Wang et al., IEEE TIP 13(4), 2004 (``ssim_index.m`` defaults).
    """
    f, r = _pair(fused, reference, cut)
    return ssim_index(r, f, data_range)


# ----------------------------------------------------------------- full resolution (no reference)


def _fullres_inputs(fused: Any, sources: Sequence[Any], block: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    if sources is None or len(sources) != 2:
        raise InputError("full-resolution indices need sources=[pan, ms] (ms: the original low-resolution MS)")
    f = _as_cube(fused, "fused")
    pan = np.asarray(sources[0], dtype=np.float64)
    if pan.ndim == 3 and pan.shape[2] == 1:
        pan = pan[:, :, 0]
    if pan.ndim != 2:
        raise InputError(f"pan must be HxW, got shape {pan.shape}")
    ms = _as_cube(sources[1], "ms")
    if f.shape[:2] != pan.shape:
        raise InputError(f"fused {f.shape[:2]} and pan {pan.shape} must have the same size")
    if f.shape[2] != ms.shape[2]:
        raise InputError(f"fused has {f.shape[2]} bands but ms has {ms.shape[2]}")
    h, w = pan.shape
    if h % ms.shape[0] or w % ms.shape[1] or h // ms.shape[0] != w // ms.shape[1]:
        raise InputError(f"pan {pan.shape} is not an integer multiple of ms {ms.shape[:2]}")
    ratio = h // ms.shape[0]
    if h % block or w % block:
        raise InputError(f"image sides {h}x{w} must be multiples of the block size {block} (toolbox requirement)")
    for name, a in (("fused", f), ("pan", pan), ("ms", ms)):
        if not np.isfinite(a).all():
            raise InputError(f"{name} contains NaN or infinite values")
    return f, pan, ms, ratio


def _block_stats(cube: np.ndarray, s: int) -> tuple[np.ndarray, np.ndarray]:
    """Per s x s block: means (nb, N) and sample covariance matrices (nb, N, N) of the bands."""
    h, w, n = cube.shape
    xb = cube.reshape(h // s, s, w // s, s, n).transpose(0, 2, 1, 3, 4).reshape(-1, s * s, n)
    m = xb.mean(axis=1)
    xc = xb - m[:, None, :]
    c = np.matmul(xc.transpose(0, 2, 1), xc) / (s * s - 1)
    return m, c


def _uqi_from_stats(m: np.ndarray, c: np.ndarray, i: int, j: int) -> float:
    """Mean over blocks of Q = 4 cov_ij m_i m_j / (var_i + var_j) / (m_i^2 + m_j^2) (``uqi``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        qv = 4 * c[:, i, j] * m[:, i] * m[:, j] / (c[:, i, i] + c[:, j, j]) / (m[:, i] ** 2 + m[:, j] ** 2)
    return float(qv.mean())


def d_lambda_index(fused: np.ndarray, ms_exp: np.ndarray, block: int = 32, p: float = 1) -> float:
    """D_lambda of QNR (``D_lambda.m``, toolbox option: MS interpolated to the PAN scale)."""
    nb = fused.shape[2]
    mf, cf = _block_stats(fused, block)
    me, ce = _block_stats(ms_exp, block)
    acc = 0.0
    for i in range(nb - 1):
        for j in range(i + 1, nb):
            acc += abs(_uqi_from_stats(mf, cf, i, j) - _uqi_from_stats(me, ce, i, j)) ** p
    s = (nb * nb - nb) / 2
    return float((acc / s) ** (1 / p)) if s else 0.0


def d_s_index(fused: np.ndarray, ms_exp: np.ndarray, pan: np.ndarray, ratio: int, block: int = 32,
              q: float = 1) -> float:
    """D_S of QNR (``D_s.m``, toolbox option: PAN_LP = interp23tap(imresize(PAN, 1/ratio)))."""
    pan_lp = interp23tap(imresize(pan, 1.0 / ratio), ratio)
    nb = fused.shape[2]
    mh, ch = _block_stats(np.concatenate([fused, pan[:, :, None]], axis=2), block)
    ml, cl = _block_stats(np.concatenate([ms_exp, pan_lp[:, :, None]], axis=2), block)
    acc = 0.0
    for b in range(nb):
        acc += abs(_uqi_from_stats(mh, ch, b, nb) - _uqi_from_stats(ml, cl, b, nb)) ** q
    return float((acc / nb) ** (1 / q))


def d_lambda_khan_index(fused: np.ndarray, ms_exp: np.ndarray, sensor: str, ratio: int, block: int = 32) -> float:
    """Khan's D_lambda: 1 - Q2n(MS_exp, MTF(fused)) (``D_lambda_K.m``)."""
    return 1.0 - q2n_index(ms_exp, mtf_filter(fused, sensor, ratio), block)


def qnr_values(fused: Any, sources: Sequence[Any], *, sensor: str = "generic", block: int = 32
               ) -> dict[str, float]:
    """All full-resolution indices at once (sharing the MS interpolation): D_lambda, D_s, QNR, D_lambda_K, HQNR."""
    f, pan, ms, ratio = _fullres_inputs(fused, sources, block)
    ms_exp = interp23tap(ms, ratio)
    dl = d_lambda_index(f, ms_exp, block)
    ds = d_s_index(f, ms_exp, pan, ratio, block)
    dlk = d_lambda_khan_index(f, ms_exp, sensor, ratio, block)
    return {"d_lambda": dl, "d_s": ds, "qnr": (1 - dl) * (1 - ds), "d_lambda_k": dlk, "hqnr": (1 - dlk) * (1 - ds)}


_FR_CONV = ("toolbox full-resolution protocol: sources=[pan, original ms], ms interpolated with interp23tap, "
            "32x32 blocks, p=q=1, no border cut")
_ALPARONE08 = ("L. Alparone, B. Aiazzi, S. Baronti, A. Garzelli, F. Nencini, M. Selva, 'Multispectral and panchromatic "
               "data fusion assessment without reference', PE&RS 74(2):193-200, 2008")
_KHAN09 = ("M. M. Khan, L. Alparone, J. Chanussot, 'Pansharpening quality assessment using the modulation transfer "
           "functions of instruments', IEEE TGRS 47(11):3880-3891, 2009")


@register_metric("d_lambda", higher_is_better=False, needs="sources", tasks=("pansharpening",),
                 convention=_FR_CONV + "; mean over band pairs of |Q(F_i,F_j) - Q(MS_i,MS_j)|",
                 citation=_ALPARONE08, display="D_lambda", aliases=("dlambda",))
def d_lambda(fused: Any, sources: Sequence[Any], reference: Any = None, *, block: int = 32) -> float:
    """Spectral distortion D_lambda of QNR.

    Parameters
    ----------
    fused : HxWxB pansharpened image.  sources : [pan (HxW), ms (original h x w x B)].
    block : block size (32; sides must be multiples of it).

    Returns
    -------
    float in [0, 1], lower is better.

    References
    ----------
    Alparone et al., PE&RS 74(2), 2008; Vivone et al. toolbox (``D_lambda.m``).
    """
    f, pan, ms, ratio = _fullres_inputs(fused, sources, block)
    return d_lambda_index(f, interp23tap(ms, ratio), block)


@register_metric("d_s", higher_is_better=False, needs="sources", tasks=("pansharpening",),
                 convention=_FR_CONV + "; mean over bands of |Q(F_b,PAN) - Q(MS_b,PAN_LP)|, "
                            "PAN_LP = interp23tap(imresize(PAN,1/ratio))",
                 citation=_ALPARONE08, display="D_S", aliases=("ds",))
def d_s(fused: Any, sources: Sequence[Any], reference: Any = None, *, block: int = 32) -> float:
    """Spatial distortion D_S of QNR (as used by both QNR and HQNR in the toolbox).

    Parameters
    ----------
    fused : HxWxB.  sources : [pan, ms].  block : 32.

    Returns
    -------
    float in [0, 1], lower is better.

    References
    ----------
    Alparone et al., PE&RS 74(2), 2008; Vivone et al. toolbox (``D_s.m``).
    """
    f, pan, ms, ratio = _fullres_inputs(fused, sources, block)
    return d_s_index(f, interp23tap(ms, ratio), pan, ratio, block)


@register_metric("qnr", higher_is_better=True, needs="sources", tasks=("pansharpening",),
                 convention=_FR_CONV + "; QNR = (1-D_lambda)(1-D_S)", citation=_ALPARONE08, display="QNR")
def qnr(fused: Any, sources: Sequence[Any], reference: Any = None, *, block: int = 32) -> float:
    """Quality with No Reference, QNR = (1 - D_lambda)(1 - D_S) (alpha = beta = 1).

    Parameters
    ----------
    fused : HxWxB.  sources : [pan, ms].  block : 32.

    Returns
    -------
    float in [0, 1], higher is better.

    References
    ----------
    Alparone et al., PE&RS 74(2), 2008; Vivone et al. toolbox (``QNR.m``).
    """
    f, pan, ms, ratio = _fullres_inputs(fused, sources, block)
    ms_exp = interp23tap(ms, ratio)
    return (1 - d_lambda_index(f, ms_exp, block)) * (1 - d_s_index(f, ms_exp, pan, ratio, block))


@register_metric("d_lambda_k", higher_is_better=False, needs="sources", tasks=("pansharpening",),
                 convention=_FR_CONV + "; 1 - Q2n(MS_exp, MTF_sensor(F)) with the uint16 cast of q2n.m",
                 citation=_KHAN09, display="D_lambda^K", aliases=("dlambda_k", "d_lambda_khan"))
def d_lambda_k(fused: Any, sources: Sequence[Any], reference: Any = None, *, sensor: str = "generic",
               block: int = 32) -> float:
    """Khan's spectral distortion: 1 - Q2n between the interpolated MS and the MTF-filtered fused image.

    Parameters
    ----------
    fused : HxWxB.  sources : [pan, ms].  sensor : MTF gains (see :mod:`pixfuse.ops.mtf`; 'generic'
    = 0.3).  block : 32.

    Returns
    -------
    float in [0, 1], lower is better.

    References
    ----------
    Khan et al., IEEE TGRS 47(11), 2009; Vivone et al. toolbox (``D_lambda_K.m``).
    """
    f, pan, ms, ratio = _fullres_inputs(fused, sources, block)
    return d_lambda_khan_index(f, interp23tap(ms, ratio), sensor, ratio, block)


@register_metric("hqnr", higher_is_better=True, needs="sources", tasks=("pansharpening",),
                 convention=_FR_CONV + "; HQNR = (1-D_lambda^K)(1-D_S) (toolbox 2021 default)",
                 citation="B. Aiazzi, L. Alparone, S. Baronti, R. Carla, A. Garzelli, L. Santurri, 'Full scale "
                          "assessment of pansharpening methods and data products', SPIE Remote Sensing, 2014; "
                          + _VIVONE21, display="HQNR")
def hqnr(fused: Any, sources: Sequence[Any], reference: Any = None, *, sensor: str = "generic",
         block: int = 32) -> float:
    """Hybrid QNR = (1 - D_lambda^K)(1 - D_S).

    Parameters
    ----------
    fused : HxWxB.  sources : [pan, ms].  sensor : MTF gains for D_lambda^K.  block : 32.

    Returns
    -------
    float in [0, 1], higher is better.

    References
    ----------
    Aiazzi et al., SPIE 2014; Vivone et al., IEEE GRSM 9(1), 2021 (``HQNR.m``).
    """
    f, pan, ms, ratio = _fullres_inputs(fused, sources, block)
    ms_exp = interp23tap(ms, ratio)
    return (1 - d_lambda_khan_index(f, ms_exp, sensor, ratio, block)) * (1 - d_s_index(f, ms_exp, pan, ratio, block))
