"""MATLAB ``.mat`` files: generic reader and pansharpening scene loader.

``read_mat`` uses :func:`scipy.io.loadmat` for MATLAB v4-v7.2 files and falls back
to ``h5py`` (optional) for v7.3 (HDF5) files, transposing arrays back to MATLAB's
row/column order.  ``load_pansharpening_mat`` understands the variable names used by
the toolbox and the PNN / Z-PNN data (``I_PAN``, ``I_MS`` or ``I_MS_LR``, optional
``sensor``, ``ratio``, ``L``, ``I_GT``).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ImageReadError, InputError

__all__ = ["read_mat", "PanScene", "load_pansharpening_mat"]


def _read_h5(path: Path) -> dict[str, Any]:
    try:
        import h5py  # type: ignore
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImageReadError(f"{path} is a MATLAB v7.3 (HDF5) file; install h5py to read it") from None
    out: dict[str, Any] = {}
    with h5py.File(path, "r") as f:
        for k, v in f.items():
            if not hasattr(v, "shape"):
                continue
            a = np.asarray(v)
            if v.attrs.get("MATLAB_class", b"") in (b"char",):
                out[k] = "".join(chr(c) for c in a.ravel())
                continue
            out[k] = a.T if a.ndim >= 2 else a
    return out


def read_mat(path: str | Path) -> dict[str, Any]:
    """Read the variables of a .mat file into a dict (MATLAB layout: HxW or HxWxB arrays)."""
    p = Path(path)
    if not p.is_file():
        raise ImageReadError(f"{p}: no such file")
    with open(p, "rb") as fh:
        head = fh.read(128)
    if b"MATLAB 7.3" in head or head[:8] == b"\x89HDF\r\n\x1a\n":
        return _read_h5(p)
    import scipy.io

    try:
        d = scipy.io.loadmat(str(p))
    except NotImplementedError:  # v7.3 reported by scipy
        return _read_h5(p)
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a read error
        raise ImageReadError(f"{p}: cannot read as a MATLAB file ({exc})") from None
    return {k: v for k, v in d.items() if not k.startswith("__")}


@dataclasses.dataclass
class PanScene:
    """A PAN + MS scene in native units.

    ``ms`` is the original low-resolution MS (h x w x B at 1/ratio of the PAN).
    ``bit_depth`` is the toolbox's L (radiometric resolution) when the file has it.
    ``reference`` is a ground-truth MS at PAN scale when the file carries one (``I_GT``).
    """

    pan: np.ndarray
    ms: np.ndarray
    sensor: str | None
    ratio: int
    bit_depth: int | None
    reference: np.ndarray | None = None
    name: str = ""


def _scalar(v: Any) -> Any:
    a = np.asarray(v)
    if a.dtype.kind in "US":
        return str(a.ravel()[0]).strip() if a.size else ""
    return a.ravel()[0].item() if a.size else None


def load_pansharpening_mat(path: str | Path) -> PanScene:
    """Load a pansharpening scene from a .mat file.

    Accepts ``I_PAN`` plus ``I_MS`` (low-resolution MS, the PNN files) or ``I_MS_LR``
    (toolbox / Z-PNN files; then ``I_MS`` at PAN scale, if present, is ignored).
    ``sensor``, ``ratio`` and ``L`` are read when present; the ratio otherwise
    comes from the PAN/MS sizes.
    """
    p = Path(path)
    d = read_mat(p)
    if "I_PAN" not in d:
        raise InputError(f"{p}: no I_PAN variable (found: {', '.join(sorted(d)) or 'none'})")
    pan = np.asarray(d["I_PAN"])
    if pan.ndim == 3 and pan.shape[2] == 1:
        pan = pan[:, :, 0]
    ms = None
    if "I_MS_LR" in d:
        ms = np.asarray(d["I_MS_LR"])
    elif "I_MS" in d:
        ms = np.asarray(d["I_MS"])
    if ms is None:
        raise InputError(f"{p}: no I_MS or I_MS_LR variable")
    if ms.ndim == 2:
        ms = ms[:, :, None]
    if pan.ndim != 2 or ms.ndim != 3:
        raise InputError(f"{p}: I_PAN must be HxW and the MS HxWxB, got {pan.shape} and {ms.shape}")
    if pan.shape[0] % ms.shape[0] or pan.shape[1] % ms.shape[1] \
            or pan.shape[0] // ms.shape[0] != pan.shape[1] // ms.shape[1]:
        raise InputError(f"{p}: PAN {pan.shape[:2]} is not an integer multiple of MS {ms.shape[:2]}")
    ratio = pan.shape[0] // ms.shape[0]
    if "ratio" in d:
        r = int(_scalar(d["ratio"]))
        if r != ratio:
            raise InputError(f"{p}: file says ratio {r} but PAN/MS sizes give {ratio}")
    sensor = _scalar(d["sensor"]) if "sensor" in d else None
    bit_depth = int(_scalar(d["L"])) if "L" in d else None
    ref = np.asarray(d["I_GT"]) if "I_GT" in d else None
    return PanScene(pan=pan, ms=ms, sensor=sensor or None, ratio=ratio, bit_depth=bit_depth,
                    reference=ref, name=p.stem)
