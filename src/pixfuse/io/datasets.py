"""Datasets on disk: a folder layout plus a fusion task.

A :class:`Dataset` is a list of :class:`Item` s (one fusion problem each: the
ordered source files, optionally a reference) found by recognising the folder
layout.  Layouts understood (folder names are matched case-insensitively):

``pairs`` (IVIF, medical, any paired folders)
    ``<root>/<A>/NAME`` + ``<root>/<B>/NAME`` ...: files paired by name stem.
    IVIF when the folders are infrared/visible (``ir``/``vi`` as in the shared
    data, TNO as redistributed by VIF-Benchmark and CDDFuse, MSRS ``ir``/``vi``
    under ``train``/``test``, LLVIP ``infrared``/``visible`` with
    ``train``/``test`` below, M3FD ``Ir``/``Vis``, RoadScene ``cropinfrared`` +
    ``crop_LR_visible``); medical when they are modalities (``CT``, ``MRI``,
    ``PET``, ``SPECT``, ...; anatomical modalities first, functional last, as
    the design's source order asks).  An optional ``gt``/``reference`` folder
    supplies references.
``tno-scenes``
    The TNO Image Fusion Dataset as published on figshare: one folder per
    scene holding one ``IR*`` / ``VIS*`` (or ``*_IR`` / ``*_VIS``) image each.
``sequences`` (multi-exposure, multi-focus)
    One folder per scene holding 2 or more images (Kede Ma's MEF database
    ``source/<scene>/``), sorted by file name.
``flat-sequences``
    Images directly in the root named ``<scene>_A``, ``<scene>_B`` ... or
    ``<scene>-A`` ... (MFIFB/MEFB pairs, Lytro triple series).
``pansharpening``
    ``.mat`` files (one scene each), ``pan.tif`` + ``ms.tif`` in the root, or
    ``PAN/NAME`` + ``MS/NAME`` folders.

:func:`open_dataset` finds the items and records pairing problems (a file
without its partner, a scene with one image); :func:`validate_dataset` also
reads every header and reports size mismatches and unreadable files.
:func:`download_dataset` fetches a catalogued public dataset and checks every
file's SHA-256.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ImageReadError, PixfuseError
from .atomic import atomic_output
from .images import READ_SUFFIXES, read_image


class DatasetError(PixfuseError, ValueError):
    """A folder that is not a usable dataset, or a failed/unverified download."""


IR_NAMES = ("ir", "inf", "infrared", "cropinfrared", "thermal", "lwir", "tir", "ir_images", "infrared_images")
VI_NAMES = ("vi", "vis", "visible", "crop_lr_visible", "rgb", "optical", "vi_images", "visible_images")
REF_NAMES = ("gt", "ground_truth", "groundtruth", "reference", "references", "ref")
SPLIT_NAMES = ("test", "val", "valid", "validation", "train", "eval")
SOURCE_NAMES = ("source", "sources", "input", "inputs")
PAN_NAMES = ("pan", "panchromatic")
MS_NAMES = ("ms", "mul", "multispectral", "ms_lr", "lrms")
#: Functional modalities go last (design: medical sources anatomical then functional).
FUNCTIONAL = ("pet", "spect", "fmri", "spect-tc", "spect-tl", "fdg")
_MODALITY_RE = re.compile(
    r"^(ct|mri?|mr[-_ ]?\w+|t1\w*|t2\w*|pd|gad|flair|pet|spect(?:[-_]\w+)?|fmri|fdg|dwi|adc|us|xray|x-ray)$",
    re.I,
)
_FLAT_SEQ_RE = re.compile(r"^(?P<scene>.+?)[_-](?P<tag>[A-Za-z]|\d{1,2})$")
SCENE_SUFFIXES = READ_SUFFIXES
MAT_SUFFIX = ".mat"
TASKS_BY_WORD = (
    (("exposure", "mef", "hdr"), "multi_exposure"),
    (("focus", "mff", "lytro"), "multi_focus"),
    (("medical", "harvard", "aanlib", "brain"), "medical"),
    (("pansharp", "pan", "geoeye", "ikonos", "worldview"), "pansharpening"),
)


@dataclasses.dataclass(frozen=True)
class Item:
    """One fusion problem: ordered source files (+ optional reference).

    ``kind`` is ``"images"`` (image files read with :func:`pixfuse.io.read_image`),
    ``"mat"`` (a MATLAB scene, PAN + MS) or ``"pan-ms"`` (two raster files, PAN then MS).
    """

    name: str
    sources: tuple[Path, ...]
    reference: Path | None = None
    roles: tuple[str, ...] = ()
    kind: str = "images"


@dataclasses.dataclass(frozen=True)
class Issue:
    """A problem found in a dataset. ``severity`` is ``"error"`` or ``"warning"``."""

    severity: str
    message: str
    item: str | None = None

    def __str__(self) -> str:
        where = f"{self.item}: " if self.item else ""
        return f"{self.severity}: {where}{self.message}"


@dataclasses.dataclass
class Dataset:
    """A folder of fusion problems: name, root, task, recognised layout, items, issues."""

    name: str
    root: Path
    task: str
    layout: str
    items: list[Item]
    roles: tuple[str, ...] = ()
    issues: list[Issue] = dataclasses.field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    def item(self, name: str) -> Item:
        for it in self.items:
            if it.name == name:
                return it
        raise DatasetError(f"dataset {self.name!r} has no item {name!r}")

    def select(self, names: Sequence[str] | None = None, limit: int | None = None) -> Dataset:
        """A copy restricted to the named items (in the given order) and/or the first ``limit``."""
        items = self.items
        if names:
            items = [self.item(n) for n in names]
        if limit is not None:
            items = items[: max(0, int(limit))]
        return dataclasses.replace(self, items=list(items))

    def load(self, item: Item | str) -> tuple[list[Any], Any]:
        """Read the item's sources (in order) and reference: ``(sources, reference)``."""
        it = self.item(item) if isinstance(item, str) else item
        return load_item(it)

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "root": str(self.root),
            "task": self.task,
            "layout": self.layout,
            "roles": list(self.roles),
            "items": len(self.items),
            "with_reference": sum(1 for i in self.items if i.reference is not None),
            "errors": len(self.errors),
            "warnings": sum(1 for i in self.issues if i.severity == "warning"),
        }


# ----------------------------------------------------------------- discovery


def _subdirs(d: Path) -> list[Path]:
    return sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))


def _images(d: Path) -> list[Path]:
    return sorted(
        p for p in d.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in SCENE_SUFFIXES
    )


def _find(dirs: Iterable[Path], names: Sequence[str]) -> Path | None:
    by = {d.name.lower(): d for d in dirs}
    for n in names:
        if n in by:
            return by[n]
    return None


def _by_stem(files: Iterable[Path]) -> tuple[dict[str, Path], list[str]]:
    out: dict[str, Path] = {}
    dup: list[str] = []
    for p in files:
        if p.stem in out:
            dup.append(p.stem)
        else:
            out[p.stem] = p
    return out, dup


def _guess_task(root: Path, default: str) -> str:
    words = " ".join(part.lower() for part in root.resolve().parts[-3:])
    for keys, task in TASKS_BY_WORD:
        if any(k in words for k in keys):
            return task
    return default


def _pairs(
    name: str,
    root: Path,
    folders: Sequence[Path],
    roles: Sequence[str],
    task: str,
    layout: str,
    ref_dir: Path | None = None,
) -> Dataset:
    maps = []
    issues: list[Issue] = []
    for f in folders:
        m, dup = _by_stem(_images(f))
        for s in dup:
            issues.append(Issue("error", f"two files with the stem {s!r} in {f.name}/ (ambiguous pairing)", s))
        maps.append(m)
    ref_map = _by_stem(_images(ref_dir))[0] if ref_dir is not None else {}
    all_stems = sorted(set().union(*maps)) if maps else []
    items = []
    for stem in all_stems:
        missing = [roles[i] for i, m in enumerate(maps) if stem not in m]
        if missing:
            have = [f"{folders[i].name}/{maps[i][stem].name}" for i in range(len(maps)) if stem in maps[i]]
            issues.append(Issue(
                "error",
                f"missing partner: {', '.join(have)} has no counterpart in "
                + ", ".join(f"{folders[roles.index(r)].name}/" for r in missing),
                stem,
            ))
            continue
        items.append(Item(stem, tuple(m[stem] for m in maps), ref_map.get(stem), tuple(roles)))
    for stem in sorted(set(ref_map) - set(all_stems)):
        issues.append(Issue("warning", f"reference {ref_dir.name}/{ref_map[stem].name} has no sources", stem))  # type: ignore[union-attr]
    if not items and not issues:
        issues.append(Issue("error", f"no images found in {', '.join(f.name + '/' for f in folders)}"))
    return Dataset(name, root, task, layout, items, tuple(roles), issues)


def _medical_order(root: Path, mods: list[Path]) -> list[Path]:
    """Anatomical modalities first, then functional; ties follow the root's name (e.g. ``CT-MRI``)."""
    rname = root.name.lower()

    def key(d: Path) -> tuple[int, int, str]:
        n = d.name.lower()
        functional = any(n.startswith(f) for f in FUNCTIONAL)
        pos = rname.find(n)
        return (1 if functional else 0, pos if pos >= 0 else 999, n)

    return sorted(mods, key=key)


def _split_dir(d: Path, split: str | None) -> Path:
    """For LLVIP/MSRS style trees choose the split folder (default ``test``)."""
    if _images(d):
        if split is not None and (d / split).is_dir():
            return d / split
        return d
    subs = _subdirs(d)
    names = {s.name.lower(): s for s in subs}
    if split is not None:
        if split.lower() in names:
            return names[split.lower()]
        raise DatasetError(f"{d}: no split folder {split!r} (found: {', '.join(sorted(names)) or 'none'})")
    for s in SPLIT_NAMES:
        if s in names:
            return names[s]
    return d


def _tno_scenes(name: str, root: Path, task: str) -> Dataset | None:
    """TNO as published: scene folders (possibly nested) with one IR* and one VIS* image."""
    items: list[Item] = []
    issues: list[Issue] = []
    ir_re = re.compile(r"(^|[_\-\s])(ir|lwir|inf|infrared|thermal)([_\-\s\d]|$)", re.I)
    vi_re = re.compile(r"(^|[_\-\s])(vis|vi|visible|nir|rgb)([_\-\s\d]|$)", re.I)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        imgs = sorted(f for f in filenames if Path(f).suffix.lower() in SCENE_SUFFIXES and not f.startswith("."))
        if not imgs:
            continue
        irs = [f for f in imgs if ir_re.search(Path(f).stem)]
        vis = [f for f in imgs if vi_re.search(Path(f).stem) and f not in irs]
        rel = Path(dirpath).relative_to(root).as_posix()
        if rel == ".":
            return None
        if len(irs) == 1 and len(vis) == 1:
            items.append(Item(rel, (Path(dirpath) / irs[0], Path(dirpath) / vis[0]), None, ("ir", "vi")))
        elif irs or vis:
            issues.append(Issue("error", f"scene folder needs exactly one IR and one VIS image, found "
                                         f"IR: {irs or 'none'}, VIS: {vis or 'none'}", rel))
    if not items:
        return None
    return Dataset(name, root, task, "tno-scenes", items, ("ir", "vi"), issues)


def _sequences(name: str, root: Path, dirs: list[Path], task: str) -> Dataset:
    items: list[Item] = []
    issues: list[Issue] = []
    for d in dirs:
        imgs = _images(d)
        if len(imgs) < 2:
            issues.append(Issue("error", f"scene folder {d.name}/ holds {len(imgs)} image(s); a sequence needs 2 or more", d.name))
            continue
        items.append(Item(d.name, tuple(imgs), None, tuple(p.stem for p in imgs)))
    return Dataset(name, root, task, "sequences", items, (), issues)


def _flat_sequences(name: str, root: Path, files: list[Path], task: str) -> Dataset | None:
    groups: dict[str, list[tuple[str, Path]]] = {}
    loose: list[Path] = []
    for p in files:
        m = _FLAT_SEQ_RE.match(p.stem)
        if m:
            groups.setdefault(m.group("scene"), []).append((m.group("tag"), p))
        else:
            loose.append(p)
    if not groups:
        return None
    items: list[Item] = []
    issues: list[Issue] = []
    for scene in sorted(groups):
        members = sorted(groups[scene], key=lambda t: (len(t[0]), t[0].upper()))
        if len(members) < 2:
            issues.append(Issue("error", f"{members[0][1].name} has no partner (expected {scene}_A, {scene}_B, ...)", scene))
            continue
        items.append(Item(scene, tuple(p for _, p in members), None, tuple(t for t, _ in members)))
    for p in loose:
        issues.append(Issue("warning", f"{p.name} does not follow the NAME_A / NAME_B naming; ignored", p.stem))
    return Dataset(name, root, task, "flat-sequences", items, (), issues)


def _pansharpening(name: str, root: Path, task: str) -> Dataset | None:
    files = [p for p in sorted(root.iterdir()) if p.is_file() and not p.name.startswith(".")]
    mats = [p for p in files if p.suffix.lower() == MAT_SUFFIX]
    if mats:
        return Dataset(name, root, task, "pansharpening", [Item(p.stem, (p,), None, ("scene",), "mat") for p in mats],
                       ("scene",))
    low = {p.name.lower(): p for p in files}
    pan = next((low[n] for n in ("pan.tif", "pan.tiff") if n in low), None)
    ms = next((low[n] for n in ("ms.tif", "ms.tiff", "mul.tif") if n in low), None)
    if pan is not None and ms is not None:
        return Dataset(name, root, task, "pansharpening", [Item(root.name, (pan, ms), None, ("pan", "ms"), "pan-ms")],
                       ("pan", "ms"))
    dirs = _subdirs(root)
    pd, md = _find(dirs, PAN_NAMES), _find(dirs, MS_NAMES)
    if pd is not None and md is not None:
        ds = _pairs(name, root, [pd, md], ["pan", "ms"], task, "pansharpening", _find(dirs, REF_NAMES))
        ds.items = [dataclasses.replace(i, kind="pan-ms") for i in ds.items]
        return ds
    # scene folders each holding pan/ms
    items = []
    for d in dirs:
        sub = _pansharpening(d.name, d, task)
        if sub is not None:
            items.extend(dataclasses.replace(i, name=f"{d.name}/{i.name}" if i.name != d.name else d.name)
                         for i in sub.items)
    if items:
        return Dataset(name, root, task, "pansharpening", items, items[0].roles)
    return None


LAYOUTS = ("pairs", "tno-scenes", "sequences", "flat-sequences", "pansharpening")


def open_dataset(
    path: str | os.PathLike[str],
    *,
    task: str | None = None,
    layout: str | None = None,
    name: str | None = None,
    split: str | None = None,
    folders: Sequence[str] | None = None,
) -> Dataset:
    """Recognise the layout of ``path`` and list its items.

    Parameters
    ----------
    path
        Dataset root folder (or a single ``.mat`` scene).
    task
        Fusion task (``ivif``, ``medical``, ``multi_focus``, ``multi_exposure``,
        ``pansharpening``, ``general``); guessed from the layout and the folder
        names when omitted.
    layout
        Force one of :data:`LAYOUTS` instead of detecting it.
    name
        Dataset name used in results (default: the folder name).
    split
        For trees with ``train``/``test`` folders (MSRS, LLVIP): which one
        (default ``test`` when present).
    folders
        For the ``pairs`` layout: the source folder names in source order
        (e.g. ``["MRI", "PET"]``), overriding the detected order.

    Returns
    -------
    Dataset
        With ``issues`` listing pairing problems (see :func:`validate_dataset`
        for the checks that read the files).

    Raises
    ------
    DatasetError
        The path does not exist or no known layout matches.
    """
    from ..registry import TASKS

    root = Path(path).expanduser()
    if not root.exists():
        raise DatasetError(f"{root}: no such folder")
    if task is not None and task not in TASKS:
        raise DatasetError(f"unknown task {task!r}; known: {', '.join(TASKS)}")
    if layout is not None and layout not in LAYOUTS:
        raise DatasetError(f"unknown layout {layout!r}; known: {', '.join(LAYOUTS)}")
    dname = name or root.name
    if root.is_file():
        if root.suffix.lower() == MAT_SUFFIX:
            return Dataset(dname, root.parent, task or "pansharpening", "pansharpening",
                           [Item(root.stem, (root,), None, ("scene",), "mat")], ("scene",))
        raise DatasetError(f"{root}: a dataset is a folder (or a .mat scene), not a single image")

    # Descend into "source/" (Kede Ma MEF) and split folders (MSRS train/test).
    dirs = _subdirs(root)
    if not _images(root):
        src = _find(dirs, SOURCE_NAMES)
        if src is not None and layout in (None, "sequences"):
            sub = open_dataset(src, task=task or _guess_task(root, "multi_exposure"), layout=layout,
                               name=dname, split=split, folders=folders)
            return dataclasses.replace(sub, root=root)
        names = {d.name.lower() for d in dirs}
        if names and names <= set(SPLIT_NAMES) | set(REF_NAMES) and layout is None:
            chosen = _split_dir(root, split)
            if chosen != root:
                sub = open_dataset(chosen, task=task, layout=layout, name=dname, split=None, folders=folders)
                return sub

    if folders:
        by = {d.name.lower(): d for d in dirs}
        chosen_dirs = []
        for f in folders:
            if f.lower() not in by:
                raise DatasetError(f"{root}: no folder {f!r} (found: {', '.join(d.name for d in dirs) or 'none'})")
            chosen_dirs.append(_split_dir(by[f.lower()], split))
        t = task or ("ivif" if {f.lower() for f in folders} & set(IR_NAMES) else _guess_task(root, "general"))
        return _pairs(dname, root, chosen_dirs, [f for f in folders], t, "pairs", _find(dirs, REF_NAMES))

    if layout in (None, "pairs"):
        ir, vi = _find(dirs, IR_NAMES), _find(dirs, VI_NAMES)
        if ir is not None and vi is not None:
            return _pairs(dname, root, [_split_dir(ir, split), _split_dir(vi, split)], ["ir", "vi"],
                          task or "ivif", "pairs", _find(dirs, REF_NAMES))
        mods = [d for d in dirs if _MODALITY_RE.match(d.name)]
        if len(mods) >= 2:
            mods = _medical_order(root, mods)
            return _pairs(dname, root, mods, [d.name for d in mods], task or "medical", "pairs",
                          _find(dirs, REF_NAMES))
        if layout == "pairs":
            src = [d for d in dirs if d.name.lower() not in REF_NAMES]
            if len(src) < 2:
                raise DatasetError(f"{root}: the pairs layout needs 2 or more source folders")
            return _pairs(dname, root, src, [d.name for d in src], task or _guess_task(root, "general"), "pairs",
                          _find(dirs, REF_NAMES))

    if layout in (None, "pansharpening") and (task in (None, "pansharpening")):
        ds = _pansharpening(dname, root, task or "pansharpening")
        if ds is not None:
            return ds
        if layout == "pansharpening":
            raise DatasetError(f"{root}: no .mat scenes, pan.tif+ms.tif, or PAN/ + MS/ folders found")

    if layout in (None, "tno-scenes") and task in (None, "ivif") and dirs and not _images(root):
        ds = _tno_scenes(dname, root, task or "ivif")
        if ds is not None:
            return ds
        if layout == "tno-scenes":
            raise DatasetError(f"{root}: no scene folders with IR*/VIS* images found")

    root_imgs = _images(root)
    if layout in (None, "sequences") and dirs and not root_imgs:
        seq_dirs = [d for d in dirs if _images(d)]
        if seq_dirs:
            # Folders sharing file names are paired sources, not scenes.
            stems = [set(_by_stem(_images(d))[0]) for d in seq_dirs]
            shared = set.intersection(*stems) if len(stems) >= 2 else set()
            if layout is None and len(seq_dirs) >= 2 and shared and len(shared) >= 0.5 * min(len(s) for s in stems):
                src = [d for d in seq_dirs if d.name.lower() not in REF_NAMES]
                return _pairs(dname, root, src, [d.name for d in src], task or _guess_task(root, "general"),
                              "pairs", _find(dirs, REF_NAMES))
            return _sequences(dname, root, seq_dirs, task or _guess_task(root, "multi_exposure"))
    if layout in (None, "flat-sequences") and root_imgs:
        ds = _flat_sequences(dname, root, root_imgs, task or _guess_task(root, "multi_focus"))
        if ds is not None:
            return ds
    raise DatasetError(
        f"{root}: no known dataset layout (expected ir/ + vi/ folders, modality folders such as CT/ + MRI/, "
        "one folder per scene, NAME_A/NAME_B files, or .mat / pan+ms scenes)"
    )


# ---------------------------------------------------------------- validation


def image_header(path: Path) -> tuple[int, int, int]:
    """``(height, width, channels)`` from the file header, without decoding pixels."""
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        import tifffile

        try:
            with tifffile.TiffFile(path) as tf:
                page = tf.pages[0]
                shape = page.shape
                spp = int(page.samplesperpixel)
                if spp > 1 and page.planarconfig == 2 and len(shape) == 3:
                    return int(shape[1]), int(shape[2]), spp
                return int(shape[0]), int(shape[1]), spp
        except Exception as exc:
            raise ImageReadError(f"{path}: cannot read TIFF header ({exc})") from None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            w, h = im.size
            return h, w, len(im.getbands())
    except UnidentifiedImageError:
        raise ImageReadError(f"{path}: not a recognised image file") from None
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot read ({exc})") from None


def validate_dataset(ds: Dataset, *, decode: bool = False) -> list[Issue]:
    """Check every item: files readable and sources of equal size.

    Reads only headers unless ``decode`` (then every image is fully decoded,
    which also finds truncated files).  Returns the new issues (also appended
    to ``ds.issues``).  Pansharpening scenes are checked for existence only
    (PAN and MS differ in size by design).
    """
    new: list[Issue] = []
    for it in ds.items:
        for p in it.sources + ((it.reference,) if it.reference else ()):
            if p.exists() and p.stat().st_size == 0:
                new.append(Issue("error", f"{p.name} is empty (0 bytes)", it.name))
        if it.kind != "images":
            continue
        sizes = []
        bad = False
        for p in it.sources + ((it.reference,) if it.reference else ()):
            try:
                if decode:
                    img, _ = read_image(p)
                    sizes.append((p, img.shape[0], img.shape[1]))
                else:
                    h, w, _ = image_header(p)
                    sizes.append((p, h, w))
            except PixfuseError as exc:
                if not any(str(p.name) in i.message for i in new if i.item == it.name):
                    new.append(Issue("error", f"unreadable: {exc}", it.name))
                bad = True
        if bad or not sizes:
            continue
        h0, w0 = sizes[0][1:]
        diff = [(p, h, w) for p, h, w in sizes[1:] if (h, w) != (h0, w0)]
        if diff:
            desc = ", ".join(f"{_rel(ds.root, p)} {h}x{w}" for p, h, w in sizes)
            new.append(Issue("error", f"size mismatch (HxW): {desc}", it.name))
    ds.issues.extend(new)
    return new


def _rel(root: Path, p: Path) -> str:
    try:
        return p.relative_to(root).as_posix()
    except ValueError:
        return p.name


# ------------------------------------------------------------------- loading


def load_item(item: Item) -> tuple[list[Any], Any]:
    """Read an item's sources in order, plus its reference (or ``None``).

    Image items give float32 arrays in [0, 1]; pansharpening items are read
    with :mod:`pixfuse.io.mat` / :mod:`pixfuse.io.geotiff` when those modules
    are installed and give ``[pan, ms]`` as they return them.
    """
    if item.kind == "images":
        srcs = [read_image(p)[0] for p in item.sources]
        ref = read_image(item.reference)[0] if item.reference is not None else None
        return srcs, ref
    if item.kind == "mat":
        mod = _optional_module("mat")
        for fname in ("load_pansharpening_mat", "read_pansharpening_mat", "read_scene", "load_scene", "read_mat_scene", "read_mat"):
            fn = getattr(mod, fname, None) if mod else None
            if fn is not None:
                scene = fn(item.sources[0])
                return _scene_to_sources(scene, item)
        raise DatasetError(f"{item.sources[0]}: reading .mat scenes needs pixfuse.io.mat (not available in this install)")
    if item.kind == "pan-ms":
        mod = _optional_module("geotiff")
        fn = None
        for fname in ("read_geotiff", "read_raster"):
            fn = getattr(mod, fname, None) if mod else None
            if fn is not None:
                break
        if fn is None:
            srcs = [read_image(p)[0] for p in item.sources]
            return srcs, None
        out = []
        for p in item.sources:
            r = fn(p)
            out.append(r[0] if isinstance(r, tuple) else r)
        return out, None
    raise DatasetError(f"unknown item kind {item.kind!r}")


def _optional_module(name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(f"pixfuse.io.{name}")
    except ImportError:
        return None


def _scene_to_sources(scene: Any, item: Item) -> tuple[list[Any], Any]:
    if isinstance(scene, dict):
        pan = next((scene[k] for k in ("pan", "PAN", "I_PAN") if k in scene), None)
        ms = next((scene[k] for k in ("ms", "MS", "I_MS", "I_MS_LR", "ms_lr") if k in scene), None)
        ref = next((scene[k] for k in ("reference", "gt", "GT", "I_GT") if k in scene), None)
    else:
        pan = getattr(scene, "pan", None)
        ms = getattr(scene, "ms", None)
        ref = getattr(scene, "reference", None)
    if pan is None or ms is None:
        raise DatasetError(f"{item.sources[0]}: the scene has no PAN/MS arrays")
    return [pan, ms], ref


# ------------------------------------------------------------------ download


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """One file of a catalogued dataset: where it goes, where it comes from, its SHA-256."""

    dest: str
    url: str
    sha256: str | None
    bytes: int | None = None


@dataclasses.dataclass(frozen=True)
class CatalogEntry:
    """A public dataset that :func:`download_dataset` can fetch."""

    name: str
    task: str
    description: str
    licence: str
    citation: str
    files: tuple[RemoteFile, ...] = ()
    archive: RemoteFile | None = None
    strip: int = 0

    @property
    def pinned(self) -> bool:
        fs = self.files if self.archive is None else (self.archive,)
        return all(f.sha256 for f in fs)


def _entry_from_dict(d: dict[str, Any]) -> CatalogEntry:
    try:
        files = tuple(RemoteFile(f["dest"], f["url"], f.get("sha256"), f.get("bytes")) for f in d.get("files", ()))
        arch = d.get("archive")
        archive = RemoteFile(arch.get("dest", Path(urllib.parse.urlparse(arch["url"]).path).name), arch["url"],
                             arch.get("sha256"), arch.get("bytes")) if arch else None
        return CatalogEntry(d["name"], d.get("task", "general"), d.get("description", ""), d.get("licence", ""),
                            d.get("citation", ""), files, archive, int(d.get("strip", 0)))
    except (KeyError, TypeError, AttributeError) as exc:
        raise DatasetError(f"malformed catalog entry {d.get('name', '?')!r}: missing {exc}") from None


def load_catalog(extra: str | os.PathLike[str] | None = None) -> dict[str, CatalogEntry]:
    """The built-in catalog (``pixfuse/data/datasets.json``) plus entries from an optional JSON file."""
    from importlib import resources

    out: dict[str, CatalogEntry] = {}
    try:
        text = resources.files("pixfuse").joinpath("data/datasets.json").read_text(encoding="utf-8")
        for d in json.loads(text)["datasets"]:
            e = _entry_from_dict(d)
            out[e.name] = e
    except FileNotFoundError:
        pass
    if extra is not None:
        p = Path(extra)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DatasetError(f"cannot read catalog {p}: {exc}") from None
        for d in data["datasets"] if isinstance(data, dict) else data:
            e = _entry_from_dict(d)
            out[e.name] = e
    return out


def _fetch(url: str, dest: Path, sha256: str | None, progress: Callable[[int], None] | None = None) -> str:
    """Stream ``url`` into ``dest`` (atomically) while hashing; verify the digest. Returns the hex digest."""
    h = hashlib.sha256()
    with atomic_output(dest) as tmp:
        with open(tmp, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=60) as r:  # noqa: S310 (URLs come from the catalog)
                    while True:
                        chunk = r.read(1 << 20)
                        if not chunk:
                            break
                        h.update(chunk)
                        out.write(chunk)
                        if progress:
                            progress(len(chunk))
            except (OSError, ValueError) as exc:
                raise DatasetError(f"cannot download {url}: {exc}") from None
        digest = h.hexdigest()
        if sha256 and digest.lower() != sha256.lower():
            raise DatasetError(f"checksum mismatch for {url}: expected sha256 {sha256}, got {digest}")
    return digest


def _sha256_file(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _safe_dest(base: Path, rel: str) -> Path:
    p = (base / rel).resolve()
    if base.resolve() not in p.parents and p != base.resolve():
        raise DatasetError(f"refusing to write outside the target folder: {rel!r}")
    return p


def _extract(archive: Path, into: Path, strip: int) -> None:
    import tarfile
    import zipfile

    def target(name: str) -> Path | None:
        parts = [q for q in Path(name).parts if q not in ("", ".")]
        parts = parts[strip:]
        if not parts:
            return None
        return _safe_dest(into, "/".join(parts))

    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                t = target(info.filename)
                if t is None or info.is_dir():
                    continue
                t.parent.mkdir(parents=True, exist_ok=True)
                with z.open(info) as src, open(t, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        return
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            for m in tf.getmembers():
                if not m.isfile():
                    continue
                t = target(m.name)
                if t is None:
                    continue
                t.parent.mkdir(parents=True, exist_ok=True)
                src = tf.extractfile(m)
                assert src is not None
                with src, open(t, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        return
    raise DatasetError(f"{archive.name}: not a zip or tar archive")


def download_dataset(
    name: str,
    to: str | os.PathLike[str],
    *,
    mirror: str | None = None,
    catalog: str | os.PathLike[str] | None = None,
    allow_unpinned: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Download a catalogued dataset into ``to/<name>`` and verify every checksum.

    Parameters
    ----------
    name
        Catalog name (see :func:`load_catalog`; ``pixfuse datasets catalog``).
    to
        Parent folder; the dataset lands in ``to/<name>``.
    mirror
        Base URL replacing the original locations: file ``dest`` is fetched
        from ``<mirror>/<name>/<dest>`` if that exists for ``file://`` mirrors,
        else ``<mirror>/<dest>`` (an archive from ``<mirror>/<archive name>``).
    catalog
        Extra JSON catalog (``{"datasets": [...]}``) adding or overriding entries.
    allow_unpinned
        Accept entries without a pinned SHA-256 (the computed digest is printed
        into the ``.pixfuse-dataset.json`` marker).

    Returns
    -------
    Path of the dataset folder.  Files already present with the right
    checksum are not fetched again; the folder appears complete or not at all
    (files land in a staging folder renamed into place at the end).
    """
    cat = load_catalog(catalog)
    if name not in cat:
        import difflib

        close = difflib.get_close_matches(name, list(cat), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise DatasetError(f"unknown dataset {name!r}{hint} (known: {', '.join(sorted(cat))})")
    e = cat[name]
    if not e.pinned and not allow_unpinned:
        raise DatasetError(f"dataset {name!r} has no pinned SHA-256 in the catalog; pass --allow-unpinned "
                           "to download it anyway (the digest is recorded in .pixfuse-dataset.json)")
    base = Path(to).expanduser()
    final = base / name
    marker = final / ".pixfuse-dataset.json"
    if marker.exists():
        try:
            info = json.loads(marker.read_text())
            if info.get("complete") and info.get("name") == name:
                return final
        except (OSError, json.JSONDecodeError):
            pass
    base.mkdir(parents=True, exist_ok=True)
    stage = base / f".{name}.partial"
    stage.mkdir(parents=True, exist_ok=True)

    def url_for(f: RemoteFile) -> str:
        if mirror is None:
            return f.url
        m = mirror.rstrip("/")
        rel = urllib.parse.quote(f.dest)
        if m.startswith("file://"):
            local = Path(urllib.request.url2pathname(urllib.parse.urlparse(m).path))
            if (local / name / f.dest).exists():
                return f"{m}/{urllib.parse.quote(name)}/{rel}"
        return f"{m}/{rel}"

    digests: dict[str, str] = {}
    if e.archive is not None:
        arch = stage / ".archive" / Path(e.archive.dest).name
        digests[e.archive.dest] = _fetch(url_for(e.archive), arch, e.archive.sha256, progress)
        _extract(arch, stage, e.strip)
        shutil.rmtree(arch.parent, ignore_errors=True)
    for f in e.files:
        dest = _safe_dest(stage, f.dest)
        if dest.exists() and f.sha256 and _sha256_file(dest) == f.sha256.lower():
            digests[f.dest] = f.sha256.lower()
            continue
        digests[f.dest] = _fetch(url_for(f), dest, f.sha256, progress)
    (stage / ".pixfuse-dataset.json").write_text(json.dumps({
        "name": name, "task": e.task, "complete": True, "licence": e.licence, "citation": e.citation,
        "sha256": digests, "mirror": mirror,
    }, indent=1))
    if final.exists():
        for p in sorted(stage.rglob("*")):
            if p.is_file():
                t = final / p.relative_to(stage)
                t.parent.mkdir(parents=True, exist_ok=True)
                os.replace(p, t)
        shutil.rmtree(stage, ignore_errors=True)
    else:
        os.replace(stage, final)
    return final

