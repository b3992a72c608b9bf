"""Whole-command time of ``pixfuse fuse --task multi_exposure`` against ``enfuse`` (and an older pixfuse tree).

Start-up (interpreter, imports, decoding) is most of a short fusion command, so this times the
whole process: minimum wall and child CPU (user + system) over ``--repeat`` interleaved runs.

Run::

    PYTHONPATH=src python benchmarks/startup_commands.py [--sequence Venice] [--repeat 9] \
        [--baseline OLD/src]          # e.g. from `git archive REV src | tar -x -C OLD`

Needs ``enfuse`` (Debian package enfuse).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_stacks import _cmd_wall_cpu  # noqa: E402  (one subprocess timing helper for the benchmarks)

ROOT = Path(__file__).resolve().parents[1]
KEDE = ROOT / ".." / "shared" / "data" / "multi_exposure" / "kede_ma_mef" / "source"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sequence", default="Venice")
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--baseline", type=Path, help="src/ folder of another pixfuse tree, timed alongside")
    args = ap.parse_args()
    frames = sorted(str(p) for p in next(KEDE.glob(args.sequence + "*")).glob("*.png"))
    # an installed package has its .pyc files; do not make every run recompile
    env0 = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    trees = {"pixfuse": ROOT / "src"}
    if args.baseline:
        trees = {"pixfuse (baseline)": args.baseline, **trees}
    with tempfile.TemporaryDirectory() as tmp:
        cmds = {name: ([sys.executable, "-m", "pixfuse", "fuse", "--task", "multi_exposure", *frames,
                        "-o", f"{tmp}/out.png", "--overwrite"], dict(env0, PYTHONPATH=str(src)))
                for name, src in trees.items()}
        cmds["enfuse"] = (["enfuse", "-o", f"{tmp}/enfuse.tif", *frames], env0)
        best = {name: (float("inf"), float("inf")) for name in cmds}
        for _ in range(args.repeat):
            for name, (cmd, env) in cmds.items():
                w, c = _cmd_wall_cpu(cmd, env)
                best[name] = (min(best[name][0], w), min(best[name][1], c))
    print(f"{args.sequence} ({len(frames)} frames), min of {args.repeat} interleaved runs, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for name, (w, c) in best.items():
        print(f"{name:20s} wall {w:.3f} s   CPU {c:.3f} s   wall ratio to enfuse {w / best['enfuse'][0]:.2f}")


if __name__ == "__main__":
    main()
