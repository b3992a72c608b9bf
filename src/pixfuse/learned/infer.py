"""Inference of trained fusion networks with numpy only (no torch).

Model files are numpy archives (``.npz``, loaded with ``allow_pickle=False``)
holding ``w{i}`` (Cout, Cin, 3, 3) / ``b{i}`` (Cout,) float32 arrays and a
``meta`` JSON string (architecture, dilations, activation slope, residual
bound, task, training record).  Shipped files live in ``pixfuse/data`` and are
listed with their sha256 in ``pixfuse/data/weights.json``; :func:`load_shipped`
verifies the hash before parsing and raises :class:`WeightsError` naming the
file and the expected hash when it differs.

Convolutions are computed as im2col matrix products on row tiles
(``W[Cout, 9 Cin] @ cols[9 Cin, pixels]``), which equals torch's
``conv2d(padding_mode="reflect")`` up to float32 rounding.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import PixfuseError

MANIFEST = "weights.json"
_TILE_BYTES = 8 << 20


class WeightsError(PixfuseError):
    """A weights file that is missing, corrupt (hash mismatch) or malformed."""


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_DATA_DIR: Path | None = None


def data_dir() -> Path:
    """Folder of the shipped weights (``pixfuse/data``)."""
    global _DATA_DIR
    if _DATA_DIR is None:
        _DATA_DIR = Path(str(resources.files("pixfuse") / "data"))
    return _DATA_DIR


def _stat_key(p: Path) -> tuple[str, int, int] | None:
    try:
        st = p.stat()
    except OSError:
        return None
    return (str(p), st.st_mtime_ns, st.st_size)


_manifest_cache: dict[tuple[str, int, int], dict[str, Any]] = {}
_verified: set[tuple[tuple[str, int, int], str]] = set()


def manifest() -> dict[str, Any]:
    """The shipped-weights manifest: ``{"files": {name: {"sha256": ..., ...}}}``."""
    p = data_dir() / MANIFEST
    key = _stat_key(p)
    if key is None:
        raise WeightsError(f"weights manifest {p} is missing (broken installation)")
    if key not in _manifest_cache:
        _manifest_cache[key] = json.loads(p.read_text())
    return _manifest_cache[key]


def verify(path: str | Path, expected_sha256: str) -> None:
    """Raise :class:`WeightsError` unless ``path`` exists and has the expected sha256.

    A file that passed is remembered by (path, mtime, size), so repeated calls in one process hash it once;
    any change to the file makes it be hashed again.
    """
    p = Path(path)
    key = _stat_key(p)
    if key is None or not p.is_file():
        raise WeightsError(f"weights file {p} is missing (expected sha256 {expected_sha256})")
    if (key, expected_sha256) in _verified:
        return
    got = sha256_file(p)
    if got != expected_sha256:
        raise WeightsError(
            f"weights file {p} is corrupt or modified: sha256 {got} does not match the expected {expected_sha256}"
        )
    _verified.add((key, expected_sha256))


def shipped_path(name: str) -> Path:
    """Path of a shipped file after checking its hash against the manifest."""
    files = manifest().get("files", {})
    if name not in files:
        raise WeightsError(f"no shipped weights named {name!r}; available: {', '.join(sorted(files))}")
    p = data_dir() / name
    verify(p, files[name]["sha256"])
    return p


def read_npz(path: str | Path, kind: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(meta, arrays) of a pixfuse ``.npz`` whose ``meta["format"]`` must equal ``kind``."""
    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: np.asarray(z[k]) for k in z.files}
        meta = json.loads(arrays.pop("meta").item())
    except FileNotFoundError:
        raise WeightsError(f"weights file {p} does not exist") from None
    except Exception as exc:  # zipfile / json / key errors
        raise WeightsError(f"weights file {p} is not a valid pixfuse archive ({exc})") from None
    if meta.get("format") != kind:
        raise WeightsError(f"weights file {p} holds {meta.get('format')!r}, expected {kind!r}")
    return meta, arrays


@dataclasses.dataclass
class Net:
    """A fusion network: conv weights/biases, dilations, activation slope, residual bound."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    dilations: list[int]
    slope: float
    residual_scale: float
    meta: dict[str, Any]

    @property
    def n_params(self) -> int:
        return int(sum(w.size + b.size for w, b in zip(self.weights, self.biases)))

    def raw(self, x: np.ndarray) -> np.ndarray:
        """Output maps (2, H, W) of the convolution chain for input (2, H, W)."""
        h = np.asarray(x, dtype=np.float32)
        last = len(self.weights) - 1
        for i, (w, b, d) in enumerate(zip(self.weights, self.biases, self.dilations)):
            h = conv3x3(h, w, b, d)
            if i < last:
                np.maximum(h, h * np.float32(self.slope), out=h)
        return h

    def fuse(self, a: np.ndarray, b: np.ndarray, return_maps: bool = False) -> Any:
        """Fused image of two HxW float32 sources (first = infrared / anatomical)."""
        a = np.asarray(a, dtype=np.float32)
        b = np.asarray(b, dtype=np.float32)
        o = self.raw(np.stack([a, b]))
        s = (1.0 / (1.0 + np.exp(-o[0]))).astype(np.float32)
        r = (np.float32(self.residual_scale) * np.tanh(o[1])).astype(np.float32)
        f = b + s * (a - b) + r
        return (f, {"weight": s, "residual": r}) if return_maps else f

    def fuse_batch(self, pairs: np.ndarray) -> np.ndarray:
        """Fuse a batch (N, 2, H, W) -> (N, H, W)."""
        return np.stack([self.fuse(p[0], p[1]) for p in np.asarray(pairs, dtype=np.float32)])


def conv3x3(x: np.ndarray, w: np.ndarray, b: np.ndarray, d: int) -> np.ndarray:
    """3x3 convolution (cross-correlation, as torch) with dilation ``d`` and reflect padding.

    ``x`` (Cin, H, W), ``w`` (Cout, Cin, 3, 3), ``b`` (Cout,) -> (Cout, H, W) float32.
    """
    cin, h, wd = x.shape
    cout = w.shape[0]
    if min(h, wd) <= d:
        raise PixfuseError(f"image of {h}x{wd} pixels is too small for a dilation-{d} convolution")
    xp = np.pad(x, ((0, 0), (d, d), (d, d)), mode="reflect")
    wm = np.ascontiguousarray(w.transpose(0, 2, 3, 1).reshape(cout, 9 * cin), dtype=np.float32)
    out = np.empty((cout, h, wd), dtype=np.float32)
    rows = max(1, min(h, _TILE_BYTES // (9 * cin * wd * 4)))
    for y0 in range(0, h, rows):
        y1 = min(h, y0 + rows)
        cols = np.empty((3, 3, cin, y1 - y0, wd), dtype=np.float32)
        for ky in range(3):
            for kx in range(3):
                cols[ky, kx] = xp[:, y0 + ky * d:y1 + ky * d, kx * d:kx * d + wd]
        np.matmul(wm, cols.reshape(9 * cin, -1), out=out[:, y0:y1].reshape(cout, -1))
    out += b.astype(np.float32)[:, None, None]
    return out


def net_from_arrays(meta: dict[str, Any], arrays: dict[str, np.ndarray], where: str = "model") -> Net:
    n = int(meta.get("n_layers", 0))
    try:
        ws = [np.ascontiguousarray(arrays[f"w{i}"], dtype=np.float32) for i in range(n)]
        bs = [np.ascontiguousarray(arrays[f"b{i}"], dtype=np.float32) for i in range(n)]
    except KeyError as exc:
        raise WeightsError(f"{where}: missing array {exc}") from None
    dil = [int(v) for v in meta.get("dilations", [])]
    if n == 0 or len(dil) != n:
        raise WeightsError(f"{where}: inconsistent layer description in meta")
    for i, (w, b) in enumerate(zip(ws, bs)):
        if w.ndim != 4 or w.shape[2:] != (3, 3) or b.shape != (w.shape[0],):
            raise WeightsError(f"{where}: layer {i} has shapes {w.shape}/{b.shape}")
        if i and w.shape[1] != ws[i - 1].shape[0]:
            raise WeightsError(f"{where}: layer {i} input channels do not chain")
    if ws[0].shape[1] != 2 or ws[-1].shape[0] != 2:
        raise WeightsError(f"{where}: network must map 2 sources to 2 output maps")
    return Net(ws, bs, dil, float(meta["slope"]), float(meta["residual_scale"]), meta)


_cache: dict[tuple[str, int, int], Any] = {}
_lock = threading.Lock()


def load_net(path: str | Path, expected_sha256: str | None = None) -> Net:
    """Load a network ``.npz`` (optionally checking its sha256 first)."""
    p = Path(path)
    if expected_sha256 is not None:
        verify(p, expected_sha256)
    key = _stat_key(p)
    with _lock:
        if key is not None and key in _cache:
            return _cache[key]
    meta, arrays = read_npz(p, "pixfuse-net")
    net = net_from_arrays(meta, arrays, str(p))
    with _lock:
        if key is not None:
            _cache[key] = net
    return net


def load_shipped_net(name: str) -> Net:
    """A shipped network by file name (hash verified against the manifest)."""
    p = shipped_path(name)
    return load_net(p)


def save_net(path: str | Path, weights: list[np.ndarray], biases: list[np.ndarray], meta: dict[str, Any]) -> Path:
    """Write a network archive atomically (temp file + rename)."""
    p = Path(path)
    meta = dict(meta, format="pixfuse-net", n_layers=len(weights))
    arrays = {f"w{i}": np.asarray(w, np.float32) for i, w in enumerate(weights)}
    arrays.update({f"b{i}": np.asarray(b, np.float32) for i, b in enumerate(biases)})
    return _atomic_savez(p, meta, arrays)


def _atomic_savez(p: Path, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Path:
    """Write an ``.npz`` atomically with fixed zip timestamps, so equal arrays give equal bytes (and hash)."""
    import io
    import os
    import zipfile

    from ..io.atomic import atomic_output

    items = {"meta": np.array(json.dumps(meta, sort_keys=True))}
    items.update(arrays)
    with atomic_output(p, suffix=".part.npz") as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for k in sorted(items):
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.ascontiguousarray(items[k]), allow_pickle=False)
                info = zipfile.ZipInfo(f"{k}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, buf.getvalue(), compresslevel=9)
        os.chmod(tmp, 0o644)
    return p


def write_manifest(folder: str | Path | None = None) -> Path:
    """(Re)write ``weights.json`` in ``folder`` (default: the package data folder) from the network and table
    ``.npz`` files there (other archives, without a pixfuse ``meta``, are not listed).

    Each entry records the sha256, the size and the model description from the file's ``meta``.
    """
    d = Path(folder) if folder is not None else data_dir()
    files: dict[str, Any] = {}
    for p in sorted(d.glob("*.npz")):
        with np.load(p, allow_pickle=False) as z:
            if "meta" not in z.files:  # other shipped data (dictionaries, projections) is not weights
                continue
            meta = json.loads(z["meta"].item())
        if meta.get("format") not in ("pixfuse-net", "pixfuse-lut"):
            continue
        entry: dict[str, Any] = {"sha256": sha256_file(p), "bytes": p.stat().st_size, "kind": meta.get("format")}
        for k in ("arch", "n_params", "task", "nodes", "teacher"):
            if k in meta:
                entry[k] = meta[k]
        if "training" in meta:
            entry["command"] = meta["training"].get("command")
        elif "command" in meta:
            entry["command"] = meta["command"]
        files[p.name] = entry
    out = d / MANIFEST
    out.write_text(json.dumps({"files": files}, indent=1, sort_keys=True) + "\n")
    return out
