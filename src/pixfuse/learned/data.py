"""Training / evaluation pairs on disk for the learned methods (numpy only).

Layouts understood by :func:`find_pairs`:

* IVIF: ``DIR/ir/<name>`` and ``DIR/vi/<name>`` (also ``vis``/``visible``),
  paired by file stem; source order is (infrared, visible).
* Medical (Harvard / AANLIB layout): ``DIR/<SUBSET>/MRI/<name>`` and
  ``DIR/<SUBSET>/{CT,PET,SPECT}/<name>``, for every ``SUBSET`` folder (or
  ``DIR`` itself); source order is (MRI, other modality), i.e. anatomical first
  as the medical task prescribes.

Hold-out split: :func:`split_pairs` sorts the pairs by their id
(``"<subset>/<stem>"``) and holds out every ``every``-th one (positions
``every-1, 2*every-1, ...``), so the split is a pure function of the file
names and is the same for training and benchmarking.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ..errors import InputError

IR_DIRS = ("ir", "infrared", "IR")
VI_DIRS = ("vi", "vis", "visible", "VIS", "VI")
MED_ANAT = ("MRI", "MR", "mri")
MED_FUNC = ("CT", "PET", "SPECT", "ct", "pet", "spect")


@dataclasses.dataclass(frozen=True)
class Pair:
    """One registered pair of source files; ``paths`` in task order."""

    id: str
    paths: tuple[Path, Path]


def _stems(folder: Path) -> dict[str, Path]:
    from ..io import list_images

    out: dict[str, Path] = {}
    for p in list_images(folder):
        out.setdefault(p.stem, p)
    return out


def _pair_folders(a: Path, b: Path, prefix: str) -> list[Pair]:
    sa, sb = _stems(a), _stems(b)
    common = sorted(set(sa) & set(sb))
    return [Pair(f"{prefix}{s}", (sa[s], sb[s])) for s in common]


def _first(folder: Path, names: tuple[str, ...]) -> Path | None:
    for n in names:
        if (folder / n).is_dir():
            return folder / n
    return None


def find_pairs(data_dir: str | Path, task: str) -> list[Pair]:
    """List the source pairs under ``data_dir`` for ``task`` ("ivif" or "medical"), sorted by id."""
    root = Path(data_dir)
    if not root.is_dir():
        raise InputError(f"training data folder {root} does not exist")
    pairs: list[Pair] = []
    if task == "ivif":
        ir, vi = _first(root, IR_DIRS), _first(root, VI_DIRS)
        if ir is None or vi is None:
            raise InputError(f"{root}: expected sub-folders 'ir' and 'vi' with images paired by file name")
        pairs = _pair_folders(ir, vi, "")
    elif task == "medical":
        subsets = [root] + sorted(p for p in root.iterdir() if p.is_dir())
        for sub in subsets:
            anat = _first(sub, MED_ANAT)
            if anat is None:
                continue
            for fn in MED_FUNC:
                if (sub / fn).is_dir():
                    prefix = "" if sub == root else f"{sub.name}/"
                    pairs += _pair_folders(anat, sub / fn, prefix)
                    break
        if not pairs:
            raise InputError(
                f"{root}: expected MRI/ plus CT/, PET/ or SPECT/ folders (optionally inside subset folders)"
            )
    else:
        raise InputError(f"learned fusion supports tasks 'ivif' and 'medical', not {task!r}")
    if not pairs:
        raise InputError(f"{root}: no image pairs found (file names must match between the folders)")
    return sorted(pairs, key=lambda p: p.id)


def split_pairs(pairs: list[Pair], every: int) -> tuple[list[Pair], list[Pair]]:
    """(train, test): sorted by id, every ``every``-th pair held out (``every=0``: no hold-out)."""
    ps = sorted(pairs, key=lambda p: p.id)
    if every <= 0:
        return ps, []
    test = [p for i, p in enumerate(ps) if i % every == every - 1]
    train = [p for i, p in enumerate(ps) if i % every != every - 1]
    return train, test


def load_luminance(path: Path) -> np.ndarray:
    """Read an image as float32 [0, 1] luminance (BT.601 Y of colour images, as the colour policy does)."""
    from ..io import read_image
    from ..ops.color import rgb_to_ycbcr

    img, _ = read_image(path)
    if img.ndim == 3:
        img = rgb_to_ycbcr(img)[:, :, 0]
    return np.ascontiguousarray(img, dtype=np.float32)


def load_pair(pair: Pair) -> np.ndarray:
    """Both sources of a pair as a (2, H, W) float32 luminance stack."""
    a, b = (load_luminance(p) for p in pair.paths)
    if a.shape != b.shape:
        raise InputError(f"pair {pair.id}: source sizes differ {a.shape} vs {b.shape}")
    return np.stack([a, b])


def sample_crops(images: list[np.ndarray], n: int, size: int, rng: np.random.Generator,
                 augment: bool = True) -> np.ndarray:
    """``n`` random ``size`` x ``size`` crops (2 channels each) with flips / 90-degree rotations.

    Images smaller than ``size`` are reflect-padded.  Returns (n, 2, size, size) float32.
    """
    out = np.empty((n, 2, size, size), dtype=np.float32)
    idx = rng.integers(0, len(images), size=n)
    for k, i in enumerate(idx):
        im = images[int(i)]
        h, w = im.shape[1:]
        if h < size or w < size:
            ph, pw = max(0, size - h), max(0, size - w)
            im = np.pad(im, ((0, 0), (0, ph), (0, pw)), mode="reflect")
            h, w = im.shape[1:]
        y = int(rng.integers(0, h - size + 1))
        x = int(rng.integers(0, w - size + 1))
        c = im[:, y:y + size, x:x + size]
        if augment:
            r = int(rng.integers(0, 8))
            if r & 1:
                c = c[:, :, ::-1]
            c = np.rot90(c, k=r >> 1, axes=(1, 2))
        out[k] = c
    return out
