"""Reading and writing images: float32 in [0, 1] inside, the file's bit depth outside.

Formats: PNG, JPEG, BMP (8-bit; PNG also 16-bit), TIFF (8-bit, 16-bit, float32).

Policies
--------
* Grey stored as three identical channels is returned as a 2-D grey image
  (``meta.stored_as_rgb_gray`` records it).
* RGBA: an opaque alpha channel is dropped with a :class:`UserWarning`; an
  alpha channel that is not fully opaque is an :class:`~pixfuse.errors.InputError`
  (fusing pre-multiplied or cut-out images silently would corrupt the result).
* EXIF orientation (JPEG/TIFF written by cameras) is applied, so the array is
  upright as a viewer shows it.
* A pixel-count limit (:func:`set_max_pixels`, env ``PIXFUSE_MAX_PIXELS``;
  default 2**28) is checked from the header, before any pixel is decoded.
* NaN or infinite values in float files are an error.
* Writes go to a temporary file in the target folder and are renamed into
  place (atomic on POSIX); parent folders are created; a write whose target is
  one of the ``protect`` paths (the inputs) is refused.
"""
from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ImageReadError, ImageTooLargeError, InputError, OutputError
from .atomic import atomic_output

_DEFAULT_MAX_PIXELS = 2**28
_max_pixels: int | None = None

READ_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def set_max_pixels(limit: int | None) -> None:
    """Set the largest pixel count (width x height) that :func:`read_image` decodes.

    ``None`` restores the default (env ``PIXFUSE_MAX_PIXELS`` or 2**28).
    """
    global _max_pixels
    if limit is not None and limit <= 0:
        raise ValueError("max pixels must be positive")
    _max_pixels = limit


def get_max_pixels() -> int:
    if _max_pixels is not None:
        return _max_pixels
    env = os.environ.get("PIXFUSE_MAX_PIXELS")
    if env:
        try:
            return int(float(env))
        except ValueError:
            pass
    return _DEFAULT_MAX_PIXELS


@dataclasses.dataclass
class ImageMeta:
    """What is needed to write an image back as it came.

    ``bit_depth`` is 8, 16 or 32 (float); ``significant_bits`` the bits actually
    used for integer data (e.g. 11 for 11-bit satellite data stored in uint16),
    ``georef`` carries CRS/transform for GeoTIFFs (filled by :mod:`pixfuse.io.geotiff`).
    """

    path: str | None = None
    format: str | None = None
    bit_depth: int = 8
    channels: int = 1
    stored_as_rgb_gray: bool = False
    dropped_alpha: bool = False
    exif_orientation: int = 1
    significant_bits: int | None = None
    georef: dict[str, Any] | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


def _check_pixels(path: Path, w: int, h: int, limit: int | None) -> None:
    lim = get_max_pixels() if limit is None else limit
    if w * h > lim:
        raise ImageTooLargeError(
            f"{path}: {w}x{h} = {w * h} pixels exceeds the limit of {lim} "
            "(possible decompression bomb; raise the limit with pixfuse.io.set_max_pixels, $PIXFUSE_MAX_PIXELS or `pixfuse --max-pixels N`)"
        )
    if w <= 0 or h <= 0:
        raise ImageReadError(f"{path}: invalid image size {w}x{h}")


def _to_float(arr: np.ndarray, path: Path) -> tuple[np.ndarray, int]:
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / np.float32(255.0), 8
    if arr.dtype == np.uint16:
        return (arr.astype(np.float32) / np.float32(65535.0)), 16
    if arr.dtype == np.bool_:
        return arr.astype(np.float32), 8
    if arr.dtype in (np.float32, np.float64, np.float16):
        a = arr.astype(np.float32)
        if not np.isfinite(a).all():
            raise InputError(f"{path}: image contains NaN or infinite values")
        return a, 32
    if arr.dtype in (np.int16, np.int32, np.uint32):
        raise InputError(f"{path}: unsupported sample type {arr.dtype} (use 8/16-bit unsigned or float32)")
    raise InputError(f"{path}: unsupported sample type {arr.dtype}")


def _normalise_channels(arr: np.ndarray, meta: ImageMeta, path: Path) -> np.ndarray:
    if arr.ndim == 2:
        meta.channels = 1
        return arr
    if arr.ndim != 3:
        raise InputError(f"{path}: unsupported array shape {arr.shape}")
    c = arr.shape[2]
    if c == 1:
        arr = arr[:, :, 0]
    elif c == 2:  # grey + alpha
        arr = _drop_alpha(arr, 1, meta, path)[:, :, 0]
    elif c == 4:
        arr = _drop_alpha(arr, 3, meta, path)
    elif c != 3:
        raise InputError(f"{path}: {c} channels; expected 1 (grey), 3 (RGB) or 4 (RGBA)")
    if arr.ndim == 3 and np.array_equal(arr[:, :, 0], arr[:, :, 1]) and np.array_equal(
        arr[:, :, 0], arr[:, :, 2]
    ):
        meta.stored_as_rgb_gray = True
        arr = arr[:, :, 0]
    meta.channels = 1 if arr.ndim == 2 else 3
    return arr


def _drop_alpha(arr: np.ndarray, ncol: int, meta: ImageMeta, path: Path) -> np.ndarray:
    alpha = arr[:, :, ncol]
    full = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}.get(arr.dtype, 1.0)
    if not np.all(alpha == full):
        raise InputError(
            f"{path}: the alpha channel is not fully opaque; flatten or remove transparency before fusing"
        )
    warnings.warn(f"{path}: opaque alpha channel dropped", UserWarning, stacklevel=4)
    meta.dropped_alpha = True
    return arr[:, :, :ncol]


def _orient(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation tag (1..8) to an HxW[xC] array."""
    ops = {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: np.swapaxes(a, 0, 1),
        6: lambda a: np.swapaxes(a, 0, 1)[:, ::-1],
        7: lambda a: np.swapaxes(a, 0, 1)[::-1, ::-1],
        8: lambda a: np.swapaxes(a, 0, 1)[::-1],
    }
    return np.ascontiguousarray(ops.get(orientation, ops[1])(arr))


def _read_tiff(path: Path, meta: ImageMeta, limit: int | None) -> np.ndarray:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tf:
            if not tf.pages:
                raise ImageReadError(f"{path}: TIFF has no images")
            page = tf.pages[0]
            shape = page.shape
            if page.samplesperpixel > 1 and page.planarconfig == 2 and len(shape) == 3:
                h, w = shape[1], shape[2]
            else:
                h, w = shape[0], shape[1]
            _check_pixels(path, int(w), int(h), limit)
            orientation = 1
            tag = page.tags.get("Orientation")
            if tag is not None:
                try:
                    orientation = int(tag.value)
                except (TypeError, ValueError):
                    orientation = 1
            arr = page.asarray()
            if page.samplesperpixel > 1 and page.planarconfig == 2 and arr.ndim == 3:
                arr = np.moveaxis(arr, 0, -1)
    except (ImageReadError, InputError):
        raise
    except Exception as exc:  # tifffile raises many types for corrupt data
        raise ImageReadError(f"{path}: cannot decode TIFF ({exc})") from None
    meta.exif_orientation = orientation
    return _orient(arr, orientation)


def _png_ihdr(path: Path) -> tuple[int, int, int] | None:
    with open(path, "rb") as f:
        head = f.read(33)
    if len(head) < 33 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    w = int.from_bytes(head[16:20], "big")
    h = int.from_bytes(head[20:24], "big")
    return w, h, head[24]


def _read_raster(path: Path, meta: ImageMeta, limit: int | None) -> np.ndarray:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        # Pillow reads only the header here; the decode happens later.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            old = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None
            try:
                im = Image.open(path)
            finally:
                Image.MAX_IMAGE_PIXELS = old
    except UnidentifiedImageError:
        raise ImageReadError(f"{path}: not a recognised image file") from None
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot read ({exc})") from None
    with im:
        w, h = im.size
        _check_pixels(path, w, h, limit)
        fmt = (im.format or "").upper()
        meta.format = fmt.lower() or meta.format
        orientation = 1
        try:
            orientation = int(im.getexif().get(0x0112, 1) or 1)
        except Exception:
            orientation = 1
        meta.exif_orientation = orientation
        ihdr = _png_ihdr(path) if fmt == "PNG" else None
        if ihdr is not None and ihdr[2] == 16:
            # Pillow reduces 16-bit colour PNGs to 8 bit; OpenCV keeps all 16.
            import cv2

            data = np.fromfile(path, dtype=np.uint8)
            arr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
            if arr is None:
                raise ImageReadError(f"{path}: cannot decode PNG (truncated or corrupt)")
            if arr.ndim == 3:
                arr = arr[:, :, [2, 1, 0, 3][: arr.shape[2]]] if arr.shape[2] >= 3 else arr
            return _orient(arr, orientation)
        try:
            im.load()
        except Exception as exc:
            raise ImageReadError(f"{path}: cannot decode image, file truncated or corrupt ({exc})") from None
        mode = im.mode
        if mode == "P":
            im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        elif mode in ("1", "L", "RGB", "RGBA", "LA"):
            pass
        elif mode in ("I;16", "I;16B", "I;16L", "I;16N"):
            arr = np.asarray(im).astype(np.uint16)
            return _orient(arr, orientation)
        elif mode == "I":
            arr = np.asarray(im)
            if arr.min() < 0 or arr.max() > 65535:
                raise InputError(f"{path}: 32-bit integer samples are not supported")
            return _orient(arr.astype(np.uint16), orientation)
        elif mode == "F":
            return _orient(np.asarray(im, dtype=np.float32), orientation)
        elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
            im = im.convert("RGB")
        else:
            raise InputError(f"{path}: unsupported image mode {mode}")
        if im.mode == "1":
            im = im.convert("L")
        arr = np.asarray(im)
    return _orient(arr, orientation)


def read_image(path: str | os.PathLike[str], *, max_pixels: int | None = None) -> tuple[np.ndarray, ImageMeta]:
    """Read an image file as float32 in [0, 1].

    Parameters
    ----------
    path
        PNG, JPEG, BMP or TIFF file.
    max_pixels
        Override of the pixel-count limit for this call.

    Returns
    -------
    image : ndarray, float32, HxW (grey) or HxWx3 (RGB), values in [0, 1]
        (float TIFFs are returned as stored, after a finiteness check).
    meta : ImageMeta
        Bit depth, format, channel handling and orientation, for writing back.

    Raises
    ------
    ImageReadError
        Missing, empty, truncated or non-image file.
    ImageTooLargeError
        More pixels than the limit, detected from the header.
    InputError
        Non-opaque alpha, NaN/inf, unsupported sample types.
    """
    p = Path(path)
    if not p.exists():
        raise ImageReadError(f"{p}: no such file")
    if p.is_dir():
        raise ImageReadError(f"{p}: is a directory, not an image")
    if p.stat().st_size == 0:
        raise ImageReadError(f"{p}: file is empty (0 bytes)")
    meta = ImageMeta(path=str(p), format=p.suffix.lower().lstrip("."))
    with open(p, "rb") as f:
        magic = f.read(4)
    if magic[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        meta.format = "tiff"
        arr = _read_tiff(p, meta, max_pixels)
    else:
        arr = _read_raster(p, meta, max_pixels)
    arr = _normalise_channels(arr, meta, p)
    img, depth = _to_float(arr, p)
    meta.bit_depth = depth
    return np.ascontiguousarray(img), meta


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def _quantise(img: np.ndarray, bit_depth: int) -> np.ndarray:
    if bit_depth == 8:
        return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)
    if bit_depth == 16:
        return np.clip(np.rint(img * 65535.0), 0, 65535).astype(np.uint16)
    return img.astype(np.float32)


def write_image(
    path: str | os.PathLike[str],
    image: np.ndarray,
    meta: ImageMeta | None = None,
    *,
    bit_depth: int | None = None,
    protect: Iterable[str | os.PathLike[str]] = (),
    overwrite: bool = True,
    quality: int = 95,
) -> Path:
    """Write ``image`` (float in [0, 1], HxW or HxWx3) atomically.

    Parameters
    ----------
    path
        Target; the format follows the suffix (.png, .jpg/.jpeg, .bmp, .tif/.tiff).
    image
        Float image; values are clipped to [0, 1] for integer formats.
    meta
        Metadata from :func:`read_image`; supplies the default bit depth.
    bit_depth
        8, 16 or 32 (float, TIFF only). Default: ``meta.bit_depth`` or 8.
    protect
        Paths that must not be overwritten (the inputs of the operation).
    overwrite
        If False an existing target is an :class:`OutputError`.
    quality
        JPEG quality.

    Returns
    -------
    Path of the written file.
    """
    p = Path(path)
    for q in protect:
        if _same_file(p, Path(q)):
            raise OutputError(f"refusing to overwrite input file {p}")
    if p.exists() and not overwrite:
        raise OutputError(f"{p} exists (use overwrite)")
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (3, 4)):
        raise InputError(f"cannot write an array of shape {img.shape} as an image")
    if img.dtype.kind not in "fiub":
        raise InputError(f"cannot write dtype {img.dtype}")
    if img.dtype.kind == "f" and not np.isfinite(img).all():
        raise InputError(f"refusing to write {p}: image contains NaN or infinite values")
    if img.dtype == np.uint8:
        img = img.astype(np.float32) / 255.0
    elif img.dtype == np.uint16:
        img = img.astype(np.float32) / 65535.0
    depth = bit_depth or (meta.bit_depth if meta is not None else 8)
    if depth not in (8, 16, 32):
        raise InputError(f"bit depth must be 8, 16 or 32, got {depth}")
    suffix = p.suffix.lower()
    if suffix in (".jpg", ".jpeg", ".bmp") and depth != 8:
        if bit_depth is not None:
            raise InputError(f"{suffix} supports only 8-bit output, not {depth}")
        depth = 8
    if suffix == ".png" and depth == 32:
        if bit_depth is not None:
            raise InputError("PNG cannot hold float samples; use .tif for 32-bit float")
        depth = 16
    if suffix not in (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"):
        raise OutputError(f"{p}: unsupported output format {suffix or '(none)'}; use .png .jpg .bmp .tif")
    data = _quantise(img, depth)
    with atomic_output(p, suffix=".part" + suffix) as tmp:
        if suffix in (".tif", ".tiff"):
            import tifffile

            photometric = "rgb" if data.ndim == 3 else "minisblack"
            tifffile.imwrite(tmp, data, photometric=photometric)
        elif suffix == ".png":
            import cv2

            arr = data[:, :, ::-1] if data.ndim == 3 else data
            ok, buf = cv2.imencode(".png", np.ascontiguousarray(arr))
            if not ok:
                raise OutputError(f"{p}: PNG encoding failed")
            buf.tofile(tmp)
        else:
            from PIL import Image

            im = Image.fromarray(data)
            if suffix in (".jpg", ".jpeg"):
                im.save(tmp, format="JPEG", quality=quality)
            else:
                im.save(tmp, format="BMP")
    return p


def list_images(folder: str | os.PathLike[str]) -> list[Path]:
    """Image files (by suffix) directly in ``folder``, sorted by name."""
    d = Path(folder)
    if not d.is_dir():
        raise ImageReadError(f"{d}: not a directory")
    return sorted(q for q in d.iterdir() if q.is_file() and q.suffix.lower() in READ_SUFFIXES)


def pair_by_stem(
    folders: Iterable[str | os.PathLike[str]],
) -> tuple[list[str], list[dict[str, Path]], list[str]]:
    """Pair the images of several folders by file-name stem.

    Returns ``(common, maps, unpaired)``: the stems present in every folder
    (sorted), one ``stem -> path`` map per folder, and the stems missing from
    at least one folder.  A folder that does not exist is an ImageReadError.
    """
    maps: list[dict[str, Path]] = []
    for d in folders:
        m: dict[str, Path] = {}
        for p in list_images(d):
            m.setdefault(p.stem, p)
        maps.append(m)
    if not maps:
        return [], [], []
    common = sorted(set.intersection(*(set(m) for m in maps)))
    unpaired = sorted(set.union(*(set(m) for m in maps)) - set(common))
    return common, maps, unpaired
