"""Dataset layouts, validation messages and the checksum-verified download (file:// mirrors)."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from pixfuse.io import write_image
from pixfuse.io.datasets import DatasetError, download_dataset, load_catalog, open_dataset, validate_dataset

from conftest import data_path, run_cli


def _img(path, h=24, w=32, seed=0, rgb=False):
    rng = np.random.default_rng(seed)
    a = rng.random((h, w, 3) if rgb else (h, w), dtype=np.float32)
    write_image(path, a)
    return path


def test_shared_layouts():
    ds = open_dataset(data_path("ivif", "tno"))
    assert (ds.task, ds.layout, ds.roles, len(ds.items)) == ("ivif", "pairs", ("ir", "vi"), 5)
    assert [p.parent.name for p in ds.item("36").sources] == ["ir", "vi"]
    assert validate_dataset(ds) == []
    # medical: anatomical first, functional last, whatever the folder order
    pet = open_dataset(data_path("medical", "harvard_aanlib", "PET-MRI"))
    assert (pet.task, pet.roles, len(pet.items)) == ("medical", ("MRI", "PET"), 2)
    ct = open_dataset(data_path("medical", "harvard_aanlib", "CT-MRI"))
    assert ct.roles == ("CT", "MRI")
    # exposure sequences: one folder per scene (below source/)
    mef = open_dataset(data_path("multi_exposure", "kede_ma_mef"))
    assert (mef.task, mef.layout, len(mef.items)) == ("multi_exposure", "sequences", 5)
    assert len(mef.item("Balloons_Erik Reinhard").sources) == 9
    # focus stacks as NAME_A / NAME-B files
    tri = open_dataset(data_path("multi_focus", "lytro_triple"))
    assert (tri.task, tri.layout) == ("multi_focus", "flat-sequences")
    assert [p.name for p in tri.item("lytro-01").sources] == ["lytro-01-A.jpg", "lytro-01-B.jpg", "lytro-01-C.jpg"]
    pan = open_dataset(data_path("pansharpening", "grip_unina_pnn"))
    assert (pan.task, sorted(i.name for i in pan.items)) == ("pansharpening", ["imgGE1", "imgIK", "imgWV2"])
    srcs, _ = pan.load("imgGE1")
    assert srcs[0].shape == (1280, 1280) and srcs[1].shape == (320, 320, 4)


def test_published_layouts(tmp_path):
    # LLVIP: infrared/{train,test} + visible/{train,test}; the test split by default
    for split in ("train", "test"):
        for mod, rgb in (("infrared", False), ("visible", True)):
            for n in ("010001", "010002"):
                _img(tmp_path / "llvip" / mod / split / f"{split}{n}.jpg", rgb=rgb)
    ds = open_dataset(tmp_path / "llvip")
    assert ds.task == "ivif" and [i.name for i in ds.items] == ["test010001", "test010002"]
    assert [i.name for i in open_dataset(tmp_path / "llvip", split="train").items] == ["train010001", "train010002"]
    # MSRS: {train,test}/{ir,vi}
    for split in ("train", "test"):
        for mod in ("ir", "vi"):
            _img(tmp_path / "msrs" / split / mod / "00001D.png")
    assert open_dataset(tmp_path / "msrs").items[0].sources[0].parts[-3:] == ("test", "ir", "00001D.png")
    # RoadScene: cropinfrared + crop_LR_visible (+ the misaligned crop_HR_visible, ignored)
    _img(tmp_path / "rs" / "cropinfrared" / "FLIR_1.jpg")
    _img(tmp_path / "rs" / "crop_LR_visible" / "FLIR_1.jpg", rgb=True)
    _img(tmp_path / "rs" / "crop_HR_visible" / "FLIR_1.jpg", h=48, w=64, rgb=True)
    ds = open_dataset(tmp_path / "rs")
    assert ds.roles == ("ir", "vi") and ds.items[0].sources[1].parent.name == "crop_LR_visible"
    assert validate_dataset(ds) == []
    # M3FD: Ir/ + Vis/
    _img(tmp_path / "m3fd" / "Ir" / "00001.png")
    _img(tmp_path / "m3fd" / "Vis" / "00001.png", rgb=True)
    assert open_dataset(tmp_path / "m3fd").roles == ("ir", "vi")
    # TNO as published: scene folders with IR*/VIS* images, nested
    _img(tmp_path / "tno" / "Athena" / "2_men" / "IR_meting003_g.bmp")
    _img(tmp_path / "tno" / "Athena" / "2_men" / "VIS_meting003_r.bmp")
    _img(tmp_path / "tno" / "Kaptein_1123" / "Kaptein_1123_IR.bmp")
    _img(tmp_path / "tno" / "Kaptein_1123" / "Kaptein_1123_Vis.bmp")
    ds = open_dataset(tmp_path / "tno")
    assert (ds.layout, [i.name for i in ds.items]) == ("tno-scenes", ["Athena/2_men", "Kaptein_1123"])
    assert ds.items[0].sources[0].name.startswith("IR_")
    # medical with a reference folder
    for mod in ("MRI", "SPECT", "gt"):
        _img(tmp_path / "med" / mod / "a.png", rgb=mod == "SPECT")
    ds = open_dataset(tmp_path / "med")
    assert ds.roles == ("MRI", "SPECT") and ds.items[0].reference.parent.name == "gt"


def test_validation_messages(tmp_path):
    root = tmp_path / "pairs"
    _img(root / "ir" / "a.png")
    _img(root / "vi" / "a.png")
    _img(root / "ir" / "lonely.png")
    _img(root / "ir" / "big.png")
    _img(root / "vi" / "big.png", h=30)
    (root / "ir" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    _img(root / "vi" / "bad.png")
    ds = open_dataset(root)
    assert [str(i) for i in ds.issues] == [
        "error: lonely: missing partner: ir/lonely.png has no counterpart in vi/"]
    issues = [str(i) for i in validate_dataset(ds)]
    assert any(s.startswith("error: big: size mismatch (HxW): ir/big.png 24x32, vi/big.png 30x32") for s in issues)
    assert any(s.startswith("error: bad: unreadable:") and "bad.png" in s for s in issues)
    assert len(ds.errors) == 3
    r = run_cli("datasets", root)
    assert r.returncode == 1
    assert "missing partner" in r.stderr and "size mismatch" in r.stderr and "3 items" in r.stdout
    r = run_cli("datasets", data_path("ivif", "msrs"), "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["items"] == 4
    seq = tmp_path / "seq"
    _img(seq / "s1" / "a.png")
    _img(seq / "s1" / "b.png")
    _img(seq / "s2" / "only.png")
    ds = open_dataset(seq, task="multi_exposure")
    assert [i.name for i in ds.items] == ["s1"] and "holds 1 image(s)" in str(ds.errors[0])
    with pytest.raises(DatasetError, match="no such folder"):
        open_dataset(tmp_path / "nope")
    (tmp_path / "empty" / "x").mkdir(parents=True)
    with pytest.raises(DatasetError, match="no known dataset layout"):
        open_dataset(tmp_path / "empty")


def _sha(p):
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_download_from_file_mirror(tmp_path):
    # a mirror of generated files, and a catalog naming their checksums
    mirror = tmp_path / "mirror"
    files = []
    for mod in ("ir", "vi"):
        for n in ("a", "b"):
            p = _img(mirror / mod / f"{n}.png", seed=hash((mod, n)) % 1000)
            files.append({"dest": f"{mod}/{n}.png", "url": f"https://example.invalid/{mod}/{n}.png",
                          "sha256": _sha(p)})
    cat = tmp_path / "catalog.json"
    cat.write_text(json.dumps({"datasets": [{"name": "tiny", "task": "ivif", "files": files}]}))
    out = download_dataset("tiny", tmp_path / "data", mirror=mirror.as_uri(), catalog=cat)
    assert out == tmp_path / "data" / "tiny"
    ds = open_dataset(out)
    assert len(ds.items) == 2 and validate_dataset(ds) == []
    assert (out / "ir" / "a.png").read_bytes() == (mirror / "ir" / "a.png").read_bytes()
    marker = json.loads((out / ".pixfuse-dataset.json").read_text())
    assert marker["complete"] and marker["sha256"]["vi/b.png"] == files[3]["sha256"]
    # a corrupted mirror file: checksum error, nothing half-written in place
    files[0]["sha256"] = "0" * 64
    cat.write_text(json.dumps({"datasets": [{"name": "tiny2", "task": "ivif", "files": files}]}))
    with pytest.raises(DatasetError, match="checksum mismatch"):
        download_dataset("tiny2", tmp_path / "data", mirror=mirror.as_uri(), catalog=cat)
    assert not (tmp_path / "data" / "tiny2").exists()
    # an archive entry (zip), through the CLI
    import zipfile

    z = tmp_path / "mirror" / "pack.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for mod in ("ir", "vi"):
            zf.write(mirror / mod / "a.png", f"pack-main/{mod}/a.png")
    cat.write_text(json.dumps({"datasets": [{"name": "packed", "task": "ivif", "strip": 1, "archive": {
        "url": "https://example.invalid/pack.zip", "sha256": _sha(z)}}]}))
    r = run_cli("datasets", "download", "packed", "--to", tmp_path / "data", "--mirror", mirror.as_uri(),
                "--catalog", cat)
    assert r.returncode == 0, r.stderr
    assert "1 items" in r.stdout and (tmp_path / "data" / "packed" / "vi" / "a.png").exists()
    r = run_cli("datasets", "download", "nope", "--to", tmp_path / "data", "--catalog", cat)
    assert r.returncode == 2 and "unknown dataset 'nope'" in r.stderr


def test_builtin_catalog_against_shared_mirror(tmp_path):
    """The built-in entry's pinned SHA-256s match the real files (shared data used as a file:// mirror)."""
    src = data_path("ivif", "tno")
    cat = load_catalog()
    assert cat["ivif-tno5"].pinned and len(cat["ivif-tno5"].files) == 10
    assert not cat["msrs"].pinned
    out = download_dataset("ivif-tno5", tmp_path, mirror=src.as_uri())
    assert sorted(p.name for p in (out / "ir").iterdir()) == sorted(p.name for p in (src / "ir").iterdir())
    assert len(open_dataset(out).items) == 5
    with pytest.raises(DatasetError, match="no pinned SHA-256"):
        download_dataset("msrs", tmp_path, mirror=src.as_uri())
