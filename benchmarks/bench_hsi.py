"""Hyperspectral-multispectral fusion on CAVE crops: simulate, fuse, score; prints a Markdown table.

    PYTHONPATH=src python benchmarks/bench_hsi.py [--ratio 8] [--srf cie1931|nikon5100] [--snr-hsi DB --snr-msi DB]

Protocol (pixfuse.protocol.hsi): LR-HSI = Gaussian PSF (FWHM = ratio, periodic) + decimation at block
centres; HR-MSI = cube x camera spectral response (CIE 1931 observer by default; the NPL Nikon D5100
needs colour-science). Scores against the original 256x256x31 cube: PSNR (dB), SAM (deg), ERGAS, SSIM, UIQI.
No peer tool is run: none of the reference implementations (MATLAB) is available here.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from pixfuse.protocol.hsi import METRICS, read_cave, run_protocol  # noqa: E402

DATA = ROOT / ".." / "shared" / "data" / "hsi_msi" / "cave_crop256"
METHODS = ["hs-upsample", "hs-detail", "hs-glp", "cnmf", "hysure"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ratio", type=int, default=8)
    ap.add_argument("--srf", default="cie1931")
    ap.add_argument("--snr-hsi", type=float, default=None)
    ap.add_argument("--snr-msi", type=float, default=None)
    ap.add_argument("--methods", default=",".join(METHODS))
    a = ap.parse_args()
    methods = [m for m in a.methods.split(",") if m]
    print(f"ratio {a.ratio}, SRF {a.srf}, SNR HSI {a.snr_hsi} dB, MSI {a.snr_msi} dB\n")
    print("| scene | method | " + " | ".join(METRICS) + " | time (s) |")
    print("|---|---|" + "---|" * (len(METRICS) + 1))
    for scene in ("balloons_ms", "chart_and_stuffed_toy_ms"):
        cube, wl = read_cave(DATA / scene)
        res = run_protocol(cube, methods, ratio=a.ratio, srf=a.srf, wavelengths=wl,
                           snr_hsi=a.snr_hsi, snr_msi=a.snr_msi)
        for m in methods:
            r = res[m]
            print(f"| {scene.removesuffix('_ms')} | {m} | {r['PSNR']:.2f} | {r['SAM']:.3f} | {r['ERGAS']:.3f} | "
                  f"{r['SSIM']:.4f} | {r['UIQI']:.4f} | {r['time_s']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
