"""Spectral response functions (SRF) for simulating a multispectral camera from a hyperspectral cube.

``srf_matrix(name, wavelengths)`` returns an ``M x L`` matrix ``R`` whose rows
are the responses of the ``M`` camera channels sampled at the ``L`` cube
wavelengths and normalised to sum to one, so ``msi = cube @ R.T`` keeps the
scale of the cube (a flat spectrum of value v gives v in every channel).

Responses
---------
``"cie1931"``
    The CIE 1931 2-degree standard observer colour-matching functions
    x-bar, y-bar, z-bar, 400-700 nm every 10 nm (CIE 015:2018 tables), shipped
    here so tests need no extra package.
``"nikon5100"``, ``"sigma-sdmerrill"``
    Measured camera sensitivities (NPL) distributed with the ``colour-science``
    package (``pip install colour-science``); resampled to the cube's
    wavelengths by linear interpolation.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import InputError, ParameterError

__all__ = ["CIE1931_WAVELENGTHS", "CIE1931_CMF", "srf_matrix", "SRF_NAMES"]

#: Wavelengths (nm) of :data:`CIE1931_CMF`.
CIE1931_WAVELENGTHS = np.arange(400, 701, 10, dtype=np.float64)

#: CIE 1931 2-degree colour-matching functions x-bar, y-bar, z-bar at 400, 410, ..., 700 nm.
CIE1931_CMF = np.array([
    [0.01431, 0.000396, 0.06785], [0.04351, 0.00121, 0.2074], [0.13438, 0.004, 0.6456],
    [0.2839, 0.0116, 1.3856], [0.34828, 0.023, 1.74706], [0.3362, 0.038, 1.77211],
    [0.2908, 0.06, 1.6692], [0.19536, 0.09098, 1.28764], [0.09564, 0.13902, 0.81295],
    [0.03201, 0.20802, 0.46518], [0.0049, 0.323, 0.272], [0.0093, 0.503, 0.1582],
    [0.06327, 0.71, 0.07825], [0.1655, 0.862, 0.04216], [0.2904, 0.954, 0.0203],
    [0.43345, 0.99495, 0.00875], [0.5945, 0.995, 0.0039], [0.7621, 0.952, 0.0021],
    [0.9163, 0.87, 0.00165], [1.0263, 0.757, 0.0011], [1.0622, 0.631, 0.0008],
    [1.0026, 0.503, 0.00034], [0.85445, 0.381, 0.00019], [0.6424, 0.265, 0.00005],
    [0.4479, 0.175, 0.00002], [0.2835, 0.107, 0.0], [0.1649, 0.061, 0.0],
    [0.0874, 0.032, 0.0], [0.04677, 0.017, 0.0], [0.0227, 0.00821, 0.0],
    [0.0113592, 0.004102, 0.0],
])

_COLOUR_NAMES = {"nikon5100": "Nikon 5100 (NPL)", "sigma-sdmerrill": "Sigma SDMerill (NPL)"}
SRF_NAMES = ("cie1931",) + tuple(_COLOUR_NAMES)


def _interp(src_wl: np.ndarray, src: np.ndarray, wl: np.ndarray) -> np.ndarray:
    if wl.min() < src_wl.min() - 1e-9 or wl.max() > src_wl.max() + 1e-9:
        raise InputError(f"wavelengths {wl.min():g}-{wl.max():g} nm exceed the response's range "
                         f"{src_wl.min():g}-{src_wl.max():g} nm")
    return np.stack([np.interp(wl, src_wl, src[:, k]) for k in range(src.shape[1])], axis=1)


def srf_matrix(name: str = "cie1931", wavelengths: Sequence[float] | None = None) -> np.ndarray:
    """``M x L`` spectral response matrix, rows summing to one.

    Parameters
    ----------
    name
        One of :data:`SRF_NAMES`.
    wavelengths
        Band centres of the hyperspectral cube in nm (default 400..700 step 10,
        the CAVE bands).
    """
    wl = CIE1931_WAVELENGTHS if wavelengths is None else np.asarray(wavelengths, dtype=np.float64)
    key = name.lower()
    if key == "cie1931":
        resp = _interp(CIE1931_WAVELENGTHS, CIE1931_CMF, wl)
    elif key in _COLOUR_NAMES:
        try:
            import colour  # noqa: F401
            from colour import MSDS_CAMERA_SENSITIVITIES
        except ImportError:
            raise InputError(f"the {name!r} response needs colour-science: pip install colour-science") from None
        sd = MSDS_CAMERA_SENSITIVITIES[_COLOUR_NAMES[key]]
        resp = _interp(np.asarray(sd.wavelengths, float), np.asarray(sd.values, float), wl)
    else:
        raise ParameterError(f"unknown spectral response {name!r}; known: {', '.join(SRF_NAMES)}")
    r = np.clip(resp.T, 0.0, None)
    s = r.sum(axis=1, keepdims=True)
    if (s <= 0).any():
        raise InputError(f"spectral response {name!r} is zero over the wavelengths given")
    return r / s
