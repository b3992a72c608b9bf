"""GeoTIFF input and output for pansharpening (needs the ``geo`` extra: rasterio).

Reading
-------
:func:`open_pair` opens a PAN and an MS GeoTIFF, reads their metadata
(:class:`RasterInfo`: size, band count, dtype, bit depth, CRS, affine
transform, nodata, band descriptions) and validates that they form a
pansharpening pair (:func:`check_pair`):

* the PAN has exactly one band, the MS at least two (``ms_bands`` may demand
  an exact count, e.g. 4 or 8 for a sensor);
* both carry the same CRS (or neither has one);
* the PAN size is an integer multiple ``ratio`` of the MS size in both axes,
  and the pixel sizes of the two transforms agree with that ratio (2 %);
* the two footprints coincide to within half an MS pixel.

Every violation raises :class:`pixfuse.errors.InputError` (or
:class:`~pixfuse.errors.ShapeMismatchError`) whose message names both files
and the offending numbers.  :func:`read_window` reads any rectangle of a band
set (windowed: only the blocks covering the window are decoded).

Bit depth
---------
``RasterInfo.bits`` is the number of significant bits of integer data: the
GeoTIFF ``NBITS`` tag when present, otherwise the dtype's width, unless a
scan of the data (:func:`data_bits`) shows that a 16-bit file holds e.g.
11-bit values (``max <= 2047``; the depths 11, 12, 14, 16 are considered).  Outputs are clipped to ``[0, 2**bits - 1]``
and the ``NBITS`` tag is written, so 11-bit data stays 11-bit.

Writing
-------
:class:`GeoTiffWriter` writes an output on the **PAN grid**: PAN CRS and
transform, the MS dtype (float results are rounded and clipped to the valid
range of the bit depth), the nodata value, the MS band descriptions, and a
``PIXFUSE_*`` provenance tag set.  It writes windows (tile by tile) into a
temporary file in the target folder which is renamed over the target only
when :meth:`GeoTiffWriter.commit` succeeds (atomic on POSIX).  A target equal
to one of the inputs is refused (:class:`~pixfuse.errors.OutputError`).

Nodata
------
A pixel is *invalid* when the PAN equals its nodata value, or when any MS band
equals the MS nodata value (the MS mask is carried to the PAN grid by pixel
replication).  Invalid pixels are written as the output nodata value (the MS
nodata, else the PAN nodata); a *valid* fused sample that rounds to the nodata
value is moved one step away from it (up, or down at the top of the range),
so the mask read back equals the input mask.  Before fusion, invalid samples are replaced by
the scene mean of the valid samples of their band (computed once for the whole
scene, so tiles agree), which keeps the filters of the methods from smearing
arbitrary fill values (often 0 or 65535) into the valid pixels next to a
nodata region.
"""
from __future__ import annotations

import dataclasses
import math
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ImageReadError, InputError, OutputError, ShapeMismatchError

__all__ = [
    "RasterInfo",
    "PairInfo",
    "require_rasterio",
    "raster_info",
    "open_pair",
    "check_pair",
    "read_window",
    "read_geotiff",
    "write_geotiff",
    "GeoTiffWriter",
    "data_bits",
    "valid_range",
]


def require_rasterio() -> Any:
    """Import rasterio or raise an :class:`InputError` telling how to install it."""
    try:
        import rasterio
    except ImportError:  # pragma: no cover - depends on the environment
        raise InputError("GeoTIFF support needs rasterio: pip install 'pixfuse[geo]'") from None
    return rasterio


@dataclasses.dataclass
class RasterInfo:
    """Metadata of one GeoTIFF (everything needed to write a matching file)."""

    path: str
    width: int
    height: int
    count: int
    dtype: str
    bits: int | None
    crs: Any
    transform: Any
    nodata: float | None
    descriptions: tuple[str | None, ...]
    tags: dict[str, str]
    band_tags: tuple[dict[str, str], ...] = ()
    nbits_tag: bool = False

    @property
    def shape(self) -> tuple[int, int]:
        return (self.height, self.width)

    @property
    def res(self) -> tuple[float, float]:
        t = self.transform
        return (math.hypot(t.a, t.d), math.hypot(t.b, t.e))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) for north-up rasters (general: min/max of corners)."""
        t = self.transform
        xs, ys = [], []
        for c, r in ((0, 0), (self.width, 0), (0, self.height), (self.width, self.height)):
            x, y = t @ (c, r)
            xs.append(x)
            ys.append(y)
        return (min(xs), min(ys), max(xs), max(ys))


@dataclasses.dataclass
class PairInfo:
    """A validated PAN/MS pair."""

    pan: RasterInfo
    ms: RasterInfo
    ratio: int

    @property
    def out_nodata(self) -> float | None:
        return self.ms.nodata if self.ms.nodata is not None else self.pan.nodata


def _path(p: str | os.PathLike[str]) -> Path:
    q = Path(p)
    if not q.exists():
        raise ImageReadError(f"{q}: no such file")
    if q.is_dir():
        raise ImageReadError(f"{q}: is a directory, not a GeoTIFF")
    if q.stat().st_size == 0:
        raise ImageReadError(f"{q}: file is empty (0 bytes)")
    return q


def raster_info(path: str | os.PathLike[str]) -> RasterInfo:
    """Read the metadata of a raster file (no pixel is decoded)."""
    rasterio = require_rasterio()
    p = _path(path)
    try:
        with rasterio.open(p) as ds:
            nbits = None
            for b in range(1, ds.count + 1):
                v = ds.tags(b, ns="IMAGE_STRUCTURE").get("NBITS")
                if v:
                    nbits = int(v)
                    break
            if nbits is None:
                v = ds.tags(ns="IMAGE_STRUCTURE").get("NBITS")
                nbits = int(v) if v else None
            dtype = ds.dtypes[0]
            if len(set(ds.dtypes)) != 1:
                raise InputError(f"{p}: bands of different sample types {sorted(set(ds.dtypes))} are not supported")
            bits = nbits
            if bits is None and np.dtype(dtype).kind in "iu":
                bits = np.dtype(dtype).itemsize * 8
            tags = {k: v for k, v in ds.tags().items() if not k.startswith("TIFFTAG_")}
            return RasterInfo(
                path=str(p),
                width=ds.width,
                height=ds.height,
                count=ds.count,
                dtype=dtype,
                bits=bits,
                crs=ds.crs,
                transform=ds.transform,
                nodata=ds.nodata,
                descriptions=tuple(ds.descriptions),
                tags=tags,
                band_tags=tuple(ds.tags(b) for b in range(1, ds.count + 1)),
                nbits_tag=nbits is not None,
            )
    except (InputError, ImageReadError):
        raise
    except Exception as exc:  # rasterio raises RasterioIOError and friends
        raise ImageReadError(f"{p}: cannot open as a raster ({exc})") from None


def _crs_str(crs: Any) -> str:
    if crs is None:
        return "none"
    try:
        epsg = crs.to_epsg()
    except Exception:
        epsg = None
    return f"EPSG:{epsg}" if epsg else crs.to_string()[:60]


def check_pair(pan: RasterInfo, ms: RasterInfo, *, ms_bands: int | Sequence[int] | None = None,
               ratio: int | None = None, tolerance: float = 0.5) -> PairInfo:
    """Validate that ``pan`` and ``ms`` form a pansharpening pair; return the ratio.

    Parameters
    ----------
    pan, ms
        Metadata from :func:`raster_info`.
    ms_bands
        Required MS band count (an int or a collection of allowed counts);
        ``None`` accepts any count >= 2.
    ratio
        Expected resolution ratio; ``None`` derives it from the sizes.
    tolerance
        Largest footprint misalignment accepted, in MS pixels.

    Raises
    ------
    InputError, ShapeMismatchError
        With a message naming the files and the mismatching numbers.
    """
    if pan.count != 1:
        raise InputError(f"PAN {pan.path} has {pan.count} bands; a panchromatic image has exactly 1 "
                         "(did you swap PAN and MS?)")
    if ms.count < 2:
        raise InputError(f"MS {ms.path} has {ms.count} band; a multispectral image needs at least 2")
    if ms_bands is not None:
        allowed = (ms_bands,) if isinstance(ms_bands, int) else tuple(ms_bands)
        if ms.count not in allowed:
            raise InputError(f"MS {ms.path} has {ms.count} bands; expected {' or '.join(map(str, allowed))}")
    if (pan.crs is None) != (ms.crs is None) or (pan.crs is not None and pan.crs != ms.crs):
        raise InputError(f"CRS mismatch: PAN {pan.path} is {_crs_str(pan.crs)}, MS {ms.path} is "
                         f"{_crs_str(ms.crs)}; reproject one of them first (e.g. gdalwarp)")
    rh, rw = pan.height / ms.height, pan.width / ms.width
    if rh != rw or not float(rh).is_integer() or rh < 1:
        raise ShapeMismatchError(
            f"PAN/MS size ratio is not an integer: PAN {pan.path} is {pan.width}x{pan.height}, MS {ms.path} is "
            f"{ms.width}x{ms.height} (ratios {rw:g} x {rh:g}); the PAN must be exactly r times the MS in both axes")
    r = int(rh)
    if ratio is not None and r != ratio:
        raise ShapeMismatchError(f"PAN/MS size ratio is {r} ({pan.width}x{pan.height} vs {ms.width}x{ms.height}), "
                                 f"but ratio={ratio} was requested")
    if pan.crs is not None:
        px_pan, px_ms = pan.res, ms.res
        for axis, a, b in (("x", px_pan[0], px_ms[0]), ("y", px_pan[1], px_ms[1])):
            if a <= 0 or abs(b / a - r) > 0.02 * r:
                raise ShapeMismatchError(
                    f"pixel sizes disagree with the size ratio {r}: PAN {pan.path} {axis}-pixel {a:g}, MS {ms.path} "
                    f"{axis}-pixel {b:g} (ratio {b / a:.4g})")
        pb, mb = pan.bounds, ms.bounds
        tol_x, tol_y = tolerance * px_ms[0], tolerance * px_ms[1]
        off = [abs(pb[0] - mb[0]), abs(pb[1] - mb[1]), abs(pb[2] - mb[2]), abs(pb[3] - mb[3])]
        if off[0] > tol_x or off[2] > tol_x or off[1] > tol_y or off[3] > tol_y:
            raise ShapeMismatchError(
                f"PAN and MS extents differ: PAN {pan.path} covers {tuple(round(v, 3) for v in pb)}, MS {ms.path} "
                f"covers {tuple(round(v, 3) for v in mb)} (left, bottom, right, top); largest offset "
                f"{max(off):.3g} exceeds {tolerance:g} MS pixel. Crop both to the same footprint first")
    return PairInfo(pan=pan, ms=ms, ratio=r)


def open_pair(pan_path: str | os.PathLike[str], ms_path: str | os.PathLike[str], **kw: Any) -> PairInfo:
    """:func:`raster_info` of both files followed by :func:`check_pair`."""
    return check_pair(raster_info(pan_path), raster_info(ms_path), **kw)


def read_window(path: str | os.PathLike[str], row0: int, row1: int, col0: int, col1: int) -> np.ndarray:
    """Read rows ``row0:row1`` and columns ``col0:col1`` of every band.

    Returns an ``HxW`` (one band) or ``HxWxB`` array in the file's dtype.
    """
    rasterio = require_rasterio()
    from rasterio.windows import Window

    with rasterio.open(path) as ds:
        if not (0 <= row0 < row1 <= ds.height and 0 <= col0 < col1 <= ds.width):
            raise InputError(f"{path}: window rows {row0}:{row1}, cols {col0}:{col1} outside {ds.height}x{ds.width}")
        a = ds.read(window=Window(col0, row0, col1 - col0, row1 - row0))
    return a[0] if a.shape[0] == 1 else np.moveaxis(a, 0, -1)


def read_geotiff(path: str | os.PathLike[str]) -> tuple[np.ndarray, RasterInfo]:
    """Read a whole GeoTIFF: (``HxW`` or ``HxWxB`` array in the file's dtype, metadata)."""
    info = raster_info(path)
    return read_window(path, 0, info.height, 0, info.width), info


def valid_range(dtype: Any, bits: int | None) -> tuple[float, float] | None:
    """Clip range of an output dtype with ``bits`` significant bits (None for floats)."""
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return None
    info = np.iinfo(dt)
    if bits is None or dt.kind == "i":
        return float(info.min), float(info.max)
    return 0.0, float(min(2**bits - 1, info.max))


def data_bits(max_value: float, dtype: Any) -> int | None:
    """Bit depth of unsigned data whose largest value is ``max_value``.

    For 16-bit containers the conventional sensor depths 11, 12, 14 and 16 are
    considered (never fewer than 11 bits: a dark 11-bit scene must not be
    clipped at 255 or 1023); 8-bit data is 8-bit.  Floats: None.
    """
    dt = np.dtype(dtype)
    if dt.kind != "u":
        return None if dt.kind == "f" else dt.itemsize * 8
    width = dt.itemsize * 8
    if width == 8:
        return 8
    for b in (11, 12, 14, 16):
        if b <= width and max_value <= 2**b - 1:
            return b
    return width


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def to_dtype(values: np.ndarray, dtype: Any, bits: int | None) -> np.ndarray:
    """Round and clip float ``values`` to ``dtype`` within the range of ``bits`` bits."""
    dt = np.dtype(dtype)
    rng = valid_range(dt, bits)
    if rng is None:
        return values.astype(dt)
    return np.clip(np.rint(values), rng[0], rng[1]).astype(dt)


class GeoTiffWriter:
    """Write a raster window by window into a temporary file, then rename it into place.

    Use as a context manager: the target appears only if the block exits
    without an exception (then :meth:`commit` is called); otherwise the
    temporary file is deleted.

    Parameters
    ----------
    path
        Target ``.tif`` path.
    width, height, count
        Size and band count.
    dtype
        Sample type (e.g. ``"uint16"``).
    crs, transform
        Georeference (PAN grid for pansharpened outputs).
    nodata
        Nodata value or None.
    bits
        Significant bits; written as the ``NBITS`` tag when below the dtype width.
    descriptions
        Band descriptions (None entries stay empty).
    tags
        Dataset tags to write.
    protect
        Input paths that must not be overwritten.
    overwrite
        If False an existing target is an :class:`OutputError`.
    blocksize
        Internal tile size of the GeoTIFF (multiple of 16).
    compress
        GDAL compression (``"deflate"``, ``"lzw"``, ``None``).
    """

    def __init__(self, path: str | os.PathLike[str], *, width: int, height: int, count: int, dtype: Any,
                 crs: Any = None, transform: Any = None, nodata: float | None = None, bits: int | None = None,
                 descriptions: Sequence[str | None] | None = None, tags: dict[str, Any] | None = None,
                 band_tags: Sequence[dict[str, Any]] | None = None,
                 protect: Iterable[str | os.PathLike[str]] = (), overwrite: bool = True, blocksize: int = 512,
                 compress: str | None = "deflate") -> None:
        rasterio = require_rasterio()
        p = Path(path)
        for q in protect:
            if _same_file(p, Path(q)):
                raise OutputError(f"refusing to overwrite input file {p}")
        if p.exists() and not overwrite:
            raise OutputError(f"{p} exists (pass overwrite=True / --overwrite to replace it)")
        if p.suffix.lower() not in (".tif", ".tiff"):
            raise OutputError(f"{p}: GeoTIFF output needs a .tif or .tiff suffix")
        self.path = p
        self.dtype = np.dtype(dtype)
        self.bits = bits
        self.count = count
        self.nodata = nodata
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".part.tif", dir=p.parent)
        os.close(fd)
        self.tmp = Path(tmp)
        profile: dict[str, Any] = dict(driver="GTiff", width=width, height=height, count=count, dtype=self.dtype.name,
                                       crs=crs, transform=transform, nodata=nodata, BIGTIFF="IF_SAFER",
                                       interleave="pixel" if count <= 16 else "band")
        if width >= 16 and height >= 16:
            bs = max(16, min(blocksize, 16 * (min(width, height) // 16)))
            profile.update(tiled=True, blockxsize=bs, blockysize=bs)
        packed = bits is not None and self.dtype.kind == "u" and bits < self.dtype.itemsize * 8
        if packed:  # GDAL stores BitsPerSample = bits (e.g. 11); readers get the dtype back
            profile["NBITS"] = bits
        if compress:
            profile["compress"] = compress
            if self.dtype.kind in "iu" and self.dtype.itemsize >= 2 and not packed:
                profile["predictor"] = 2
        try:
            self._ds = rasterio.open(self.tmp, "w", **profile)
        except Exception as exc:
            self.tmp.unlink(missing_ok=True)
            raise OutputError(f"{p}: cannot create GeoTIFF ({exc})") from None
        if descriptions:
            for i, d in enumerate(descriptions[:count], 1):
                if d:
                    self._ds.set_band_description(i, d)
        if tags:
            self._ds.update_tags(**{k: str(v) for k, v in tags.items()})
        if band_tags:
            for i, bt in enumerate(band_tags[:count], 1):
                if bt:
                    self._ds.update_tags(i, **{k: str(v) for k, v in bt.items()})
        self._done = False

    def write(self, data: np.ndarray, row0: int, col0: int) -> None:
        """Write an ``HxW`` or ``HxWxB`` block at (``row0``, ``col0``); floats are rounded/clipped."""
        from rasterio.windows import Window

        a = np.asarray(data)
        if a.ndim == 2:
            a = a[:, :, None]
        if a.shape[2] != self.count:
            raise InputError(f"block has {a.shape[2]} bands, file has {self.count}")
        if a.dtype != self.dtype:
            a = to_dtype(a, self.dtype, self.bits)
        self._ds.write(np.moveaxis(a, -1, 0), window=Window(col0, row0, a.shape[1], a.shape[0]))

    def commit(self) -> Path:
        """Close the temporary file and rename it over the target."""
        if self._done:
            return self.path
        self._ds.close()
        os.replace(self.tmp, self.path)
        self._done = True
        return self.path

    def abort(self) -> None:
        """Close and delete the temporary file (the target is left untouched)."""
        if self._done:
            return
        try:
            self._ds.close()
        finally:
            self.tmp.unlink(missing_ok=True)
            self._done = True

    def __enter__(self) -> "GeoTiffWriter":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def write_geotiff(path: str | os.PathLike[str], data: np.ndarray, like: RasterInfo, *,
                  descriptions: Sequence[str | None] | None = None, bits: int | None = None,
                  dtype: Any = None, nodata: float | None = None, tags: dict[str, Any] | None = None,
                  protect: Iterable[str | os.PathLike[str]] = (), overwrite: bool = True) -> Path:
    """Write a whole array on the grid (CRS, transform) of ``like``.

    ``data`` is ``HxW`` or ``HxWxB``; its height and width must equal ``like``'s.
    Dtype, bits, nodata and descriptions default to ``like``'s.
    """
    a = np.asarray(data)
    h, w = a.shape[:2]
    if (h, w) != like.shape:
        raise ShapeMismatchError(f"array is {w}x{h} but the target grid ({like.path}) is {like.width}x{like.height}")
    count = 1 if a.ndim == 2 else a.shape[2]
    with GeoTiffWriter(path, width=w, height=h, count=count, dtype=dtype or like.dtype, crs=like.crs,
                       transform=like.transform, nodata=like.nodata if nodata is None else nodata,
                       bits=bits if bits is not None else like.bits,
                       descriptions=descriptions if descriptions is not None else like.descriptions,
                       tags=tags if tags is not None else like.tags, protect=protect, overwrite=overwrite) as wr:
        wr.write(a, 0, 0)
    return wr.path
