"""Regenerate src/pixfuse/data/datasets.json (the `pixfuse datasets download` catalog).

Per-file entries come from ../shared/data/*/manifest.json: every file is fetched from
raw.githubusercontent.com at the pinned commit and checked against its SHA-256.
Whole-dataset archives whose digest could not be computed here (no network when the
catalog was written) are listed without a checksum and need --allow-unpinned.

    python scripts/gen_dataset_catalog.py
"""
from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"

SUBSETS = [
    # name, task, manifest folder, subset prefix, description, licence, citation
    ("ivif-tno5", "ivif", "ivif", "tno", "5 TNO infrared/visible pairs (VIF-Benchmark 17/21/36, CDDFuse 07/19), ir/ + vi/",
     "TNO Image Fusion Dataset (A. Toet), believed CC BY 4.0; VIF-Benchmark repo MIT",
     "A. Toet, The TNO Multiband Image Data Collection, Data in Brief 15:249-251, 2017"),
    ("ivif-roadscene4", "ivif", "ivif", "roadscene", "4 RoadScene pairs (cropinfrared + crop_LR_visible), ir/ + vi/",
     "no licence in the repo; derived from the FLIR ADAS dataset (FLIR's terms apply)",
     "H. Xu et al., FusionDN, AAAI 2020; U2Fusion, IEEE TPAMI 44(1), 2022"),
    ("ivif-msrs4", "ivif", "ivif", "msrs", "4 MSRS pairs (2 day, 2 night), ir/ + vi/",
     "VIF-Benchmark repo MIT; MSRS states no licence (built from MFNet)",
     "L. Tang et al., PIAFusion, Information Fusion 83-84:79-92, 2022"),
    ("ivif-llvip2", "ivif", "ivif", "llvip", "2 LLVIP pairs (1280x1024), ir/ + vi/",
     "NON-COMMERCIAL research/teaching only (LLVIP terms of use)",
     "X. Jia et al., LLVIP: A Visible-infrared Paired Dataset for Low-light Vision, ICCV Workshops 2021"),
    ("ivif-m3fd1", "ivif", "ivif", "m3fd", "1 M3FD pair (TarDAL sample), ir/ + vi/",
     "TarDAL repo GPL-3.0; M3FD states no separate licence",
     "J. Liu et al., TarDAL, CVPR 2022"),
    ("medical-harvard-aanlib", "medical", "medical", "harvard_aanlib",
     "Harvard Whole Brain Atlas sample: CT-MRI, PET-MRI, SPECT-MRI (2 pairs each)",
     "Harvard AANLIB: copyright notice, no open licence; research use with attribution",
     "K. A. Johnson, J. A. Becker, The Whole Brain Atlas, med.harvard.edu/AANLIB"),
    ("mef-kede-ma", "multi_exposure", "multi_exposure", "kede_ma_mef",
     "Kede Ma MEF database sample: 5 sequences, 40 fused results with MOS",
     "research use; cite the authors",
     "K. Ma, K. Zeng, Z. Wang, Perceptual Quality Assessment for Multi-Exposure Image Fusion, IEEE TIP 24(11), 2015"),
    ("mef-mefb-pairs", "multi_exposure", "multi_exposure", "mefb_pairs", "2 MEFB two-exposure pairs (NAME_A/NAME_B)",
     "MEFB repo; image terms of the original sources",
     "X. Zhang, Benchmarking and comparing multi-exposure image fusion algorithms, Information Fusion 74, 2021"),
    ("mff-lytro", "multi_focus", "multi_focus", "lytro", "4 Lytro multi-focus pairs (NAME_A/NAME_B)",
     "no licence stated", "M. Nejati, S. Samavi, S. Shirani, Multi-focus image fusion using dictionary-based "
     "sparse representation, Information Fusion 25:72-84, 2015"),
    ("mff-lytro-triple", "multi_focus", "multi_focus", "lytro_triple", "2 Lytro three-image focus stacks",
     "no licence stated", "M. Nejati et al., Information Fusion 25, 2015; IFCNN (Y. Zhang et al., Inf. Fusion 54, 2020)"),
    ("mff-mffw", "multi_focus", "multi_focus", "mffw", "2 MFFW 'in the wild' focus pairs",
     "no licence stated", "S. Xu et al., MFFW: A new dataset for multi-focus image fusion, arXiv:2002.04780, 2020"),
    ("pansharpening-pnn", "pansharpening", "pansharpening", "grip_unina_pnn",
     "GeoEye-1, IKONOS, WorldView-2 scenes (PAN 1280^2, MS 320^2, .mat)",
     "GRIP-UNINA licence: informational and non-profit use only",
     "G. Masi et al., Pansharpening by Convolutional Neural Networks, Remote Sensing 8(7):594, 2016"),
]

ARCHIVES = [
    {"name": "roadscene", "task": "ivif",
     "description": "RoadScene, all 221 aligned pairs (cropinfrared/ + crop_LR_visible/), GitHub archive at a pinned commit",
     "licence": "no licence in the repo; derived from the FLIR ADAS dataset (FLIR's terms apply)",
     "citation": "H. Xu et al., FusionDN, AAAI 2020; U2Fusion, IEEE TPAMI 44(1), 2022",
     "archive": {"url": "https://github.com/hanna-xu/RoadScene/archive/ab71420f8fc96396eeb97eecf3694909b3feb656.zip",
                 "sha256": None}, "strip": 1},
    {"name": "msrs", "task": "ivif",
     "description": "MSRS (train/ and test/ with ir/ + vi/), GitHub archive (about 670 MB)",
     "licence": "no licence stated; built from the MFNet dataset",
     "citation": "L. Tang et al., PIAFusion, Information Fusion 83-84:79-92, 2022",
     "archive": {"url": "https://github.com/Linfeng-Tang/MSRS/archive/refs/heads/main.zip", "sha256": None},
     "strip": 1},
]


def main() -> None:
    out = []
    for name, task, folder, prefix, desc, lic, cit in SUBSETS:
        man = json.loads((DATA / folder / "manifest.json").read_text())
        files = []
        for f in man:
            if not f["dest"].startswith(prefix + "/"):
                continue
            if f["dest"].lower().endswith(("readme.txt", "license.txt", ".mat")) and not f["dest"].endswith(
                    ("imgGE1.mat", "imgIK.mat", "imgWV2.mat")):
                continue
            url = "https://raw.githubusercontent.com/{}/{}/{}".format(
                f["repo"], f["commit"], urllib.parse.quote(f["path"]))
            files.append({"dest": f["dest"][len(prefix) + 1:], "url": url, "sha256": f["sha256"], "bytes": f["bytes"]})
        out.append({"name": name, "task": task, "description": desc, "licence": lic, "citation": cit, "files": files})
    out.extend(ARCHIVES)
    target = ROOT / "src" / "pixfuse" / "data" / "datasets.json"
    target.write_text(json.dumps({"datasets": out}, indent=1) + "\n")
    print(f"wrote {target} ({len(out)} datasets)")


if __name__ == "__main__":
    main()
