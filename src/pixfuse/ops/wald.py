"""Wald's protocol: the reduced-resolution test case of a PAN + MS scene.

:func:`reduce_resolution` reproduces the toolbox's ``Tools/resize_images.m``:

1. MS_LR = nearest decimation by ``ratio`` of the MS filtered with the sensor's
   MTF-matched kernels (``MTF.m``); nearest decimation keeps 0-based rows/cols
   ``[2::4]`` for ratio 4 (MATLAB ``imresize(..., 1/4, 'nearest')``).
2. PAN_LR = MATLAB ``imresize(PAN, 1/ratio)`` (bicubic with antialiasing); the PAN
   is not MTF-filtered.
3. The reference (ground truth) is the original MS.

The fused result of (PAN_LR, MS_LR) is compared with the original MS (indices
with the border cut of 21 pixels; see :mod:`pixfuse.metrics.spectral`).

References
----------
L. Wald, T. Ranchin, M. Mangolini, "Fusion of satellite images of different spatial
resolutions: assessing the quality of resulting images", PE&RS 63(6), 1997.
G. Vivone et al., "A new benchmarking of pansharpening methods", IEEE GRSM 9(1), 2021.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import InputError, ParameterError
from .mtf import mtf_filter
from .resample import decimate_nearest, imresize

__all__ = ["ReducedScene", "reduce_resolution"]


@dataclasses.dataclass
class ReducedScene:
    """Output of :func:`reduce_resolution` (float64 arrays in the input's units)."""

    pan: np.ndarray        #: PAN at 1/ratio (same grid as the original MS)
    ms: np.ndarray         #: MS at 1/ratio**2 of the original PAN
    reference: np.ndarray  #: the original MS (ground truth for the reduced case)
    ratio: int
    sensor: str


def reduce_resolution(pan: np.ndarray, ms: np.ndarray, sensor: str = "generic", ratio: int | None = None
                      ) -> ReducedScene:
    """Build the reduced-resolution (Wald protocol) case of a PAN + low-resolution MS scene.

    Parameters
    ----------
    pan : HxW PAN (native units, any numeric dtype).
    ms : (H/ratio) x (W/ratio) x B original MS.
    sensor : sensor name for the MTF gains (see :mod:`pixfuse.ops.mtf`).
    ratio : resolution ratio; inferred from the sizes when None.

    Returns
    -------
    ReducedScene with ``pan`` (H/ratio x W/ratio), ``ms`` (H/ratio^2 x W/ratio^2 x B)
    and ``reference`` (the original MS, float64).
    """
    p = np.asarray(pan, dtype=np.float64)
    m = np.asarray(ms, dtype=np.float64)
    if m.ndim == 2:
        m = m[:, :, None]
    if p.ndim != 2 or m.ndim != 3:
        raise InputError(f"reduce_resolution needs an HxW PAN and an hxwxB MS, got {p.shape} and {m.shape}")
    if p.shape[0] % m.shape[0] or p.shape[1] % m.shape[1] or p.shape[0] // m.shape[0] != p.shape[1] // m.shape[1]:
        raise InputError(f"PAN size {p.shape} is not an integer multiple of MS size {m.shape[:2]}")
    r = p.shape[0] // m.shape[0]
    if ratio is not None and int(ratio) != r:
        raise ParameterError(f"ratio={ratio} but the PAN/MS sizes give {r}")
    if m.shape[0] % r or m.shape[1] % r:
        raise InputError(f"MS size {m.shape[:2]} must be a multiple of the ratio {r} to reduce it")
    ms_lp = mtf_filter(m, sensor, r)
    ms_lr = decimate_nearest(ms_lp, r)
    pan_lr = imresize(p, 1.0 / r)
    return ReducedScene(pan=pan_lr, ms=np.ascontiguousarray(ms_lr), reference=m, ratio=r, sensor=sensor)
