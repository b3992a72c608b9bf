"""Compare every no-reference fusion metric of this tree with another source tree on real image pairs.

Usage::

    PYTHONPATH=src python benchmarks/check_metric_values.py --baseline /tmp/base/src [--no-fmi]

Pairs (from ``../shared/data``): every IVIF pair of MSRS, RoadScene, TNO (without the ``cddfuse_*``
copies), M3FD and LLVIP (LLVIP at half size), plus one Harvard CT-MRI and one PET-MRI pair.  Fused
images: the rounded mean of the grey sources (8-bit), for colour VIS also an RGB one (0.6 VIS + 0.4 IR
per channel, 8-bit), and the float32 maximum of the grey sources.  Each fused image is scored by one
``evaluate`` call with all metrics and, for the grey one, also metric by metric.  Prints the number of
bit-identical values and the largest relative difference per metric.  For speed-ups that must not
change values (both trees imported in one process, like ``bench_metrics.py --baseline``).
"""
from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

import pixfuse
from pixfuse.metrics._common import rgb2gray

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def _pairs() -> list[tuple[Path, Path]]:
    pairs = []
    for d in ("msrs", "roadscene", "tno", "m3fd", "llvip"):
        for p in sorted((DATA / "ivif" / d / "ir").glob("*")):
            if "cddfuse" not in p.name:
                pairs.append((p, p.parents[1] / "vi" / p.name))
    ct = sorted((DATA / "medical" / "harvard" / "CT-MRI" / "CT").glob("*"))[:1]
    pet = sorted((DATA / "medical" / "harvard" / "PET-MRI" / "PET").glob("*"))[:1]
    pairs += [(p, p.parents[1] / "MRI" / p.name) for p in ct]
    pairs += [(p.parents[1] / "MRI" / p.name, p) for p in pet]
    return pairs


def _cases(a_path: Path, b_path: Path):
    A, B = np.array(Image.open(a_path)), np.array(Image.open(b_path))
    if A.ndim == 3 and (A[..., 0] == A[..., 1]).all() and (A[..., 1] == A[..., 2]).all():
        A = A[..., 0]  # grey stored as RGB
    big = "llvip" in str(a_path)
    if big:
        A, B = A[::2, ::2], B[::2, ::2]
    ga = A.astype(float) if A.ndim == 2 else rgb2gray(A.astype(float), uint8=True)
    gb = B.astype(float) if B.ndim == 2 else rgb2gray(B.astype(float), uint8=True)
    yield "grey", np.rint((ga + gb) / 2).astype(np.uint8), [A, B]
    if big:
        return
    if B.ndim == 3:
        yield "rgb", np.clip(np.rint(B * 0.6 + (ga * 0.4)[..., None]), 0, 255).astype(np.uint8), [A, B]
    yield "float", np.maximum(ga, gb).astype(np.float32) / 255, [A, B]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", type=Path, required=True, help="the other tree's directory holding pixfuse/")
    ap.add_argument("--no-fmi", action="store_true", help="leave out the (slow) FMI metrics")
    args = ap.parse_args()
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_metrics import _import_baseline

    base = _import_baseline(args.baseline)
    names = sorted(s.name for s in pixfuse.registry.metric_specs("ivif") if s.needs in ("fused", "sources"))
    if args.no_fmi:
        names = [n for n in names if not n.startswith("fmi")]
    worst: dict[str, tuple[float, str]] = {}
    n_same = n_all = n_cases = 0
    for a, b in _pairs():
        for kind, f, src in _cases(a, b):
            n_cases += 1
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                runs = [(base.evaluate(f, src, names), pixfuse.evaluate(f, src, names))]
                if kind == "grey":
                    runs.append(({n: base.evaluate(f, src, [n])[n] for n in names},
                                 {n: pixfuse.evaluate(f, src, [n])[n] for n in names}))
            for vb, vc in runs:
                for n in names:
                    x, y = vb[n], vc[n]
                    n_all += 1
                    if x == y or (x != x and y != y):
                        n_same += 1
                        continue
                    d = abs(y - x) / max(abs(x), 1e-300)
                    if d > worst.get(n, (0.0, ""))[0]:
                        worst[n] = (d, f"{a.name} {kind}")
    print(f"{n_cases} cases ({len(_pairs())} pairs), {len(names)} metrics: {n_same}/{n_all} values bit-identical")
    for n, (d, where) in sorted(worst.items(), key=lambda t: -t[1][0]):
        print(f"  {n:22s} max rel. difference {d:.2e} ({where})")


if __name__ == "__main__":
    main()
