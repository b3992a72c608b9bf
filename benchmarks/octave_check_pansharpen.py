"""Equivalence check of pixfuse's pansharpening methods against the MATLAB toolbox code run in GNU Octave.

The toolbox (Vivone et al., "A new benchmarking of pansharpening methods", IEEE GRSM 2021, and the 2015
"critical comparison" toolbox) is third-party code and is **not** part of pixfuse: give the folder holding its
``.m`` files (or your transcriptions of them) with ``--toolbox``.  The functions called are::

    interp23tap(I_MS_LR, ratio)                      EXP (the upsampled MS every method starts from)
    Brovey(I_MS, I_PAN)                              bt
    IHS(I_MS, I_PAN)                                 gihs
    GSA(I_MS, I_PAN, I_MS_LR, ratio)                 gsa   (LPfilterPlusDec, estimation_alpha, ndwt2_working, ...)
    BDSD(I_MS, I_PAN, ratio, size(I_MS, 1), sensor)  bdsd  (global estimation: one block; MTF, MTF_PAN, genMTF)
    BDSD_PC(I_MS, I_PAN, ratio, sensor)              bdsd-pc
    PRACS(I_MS, I_PAN, ratio)                        pracs
    ATWT(I_MS, I_PAN, ratio)                         atwt  (ndwt2_working / indwt2_working)
    AWLP(I_MS, I_PAN, ratio)                         awlp
    Indusion(I_PAN, I_MS_LR, ratio)                  indusion (deg9tap, upsampling7tap)
    HPF(I_MS, I_PAN, ratio)                          hpf
    SFIM(I_MS, I_PAN, ratio)                         sfim

MATLAB built-ins that Octave (7.x, image package) lacks or implements differently are supplied by this script as
small shims, written from MATLAB's documented algorithms (not from MathWorks code) into a temporary folder that
is put first on Octave's path: ``imresize`` (MATLAB's bicubic with antialiasing on downscaling, and 'nearest';
Octave's imresize does not antialias), ``fwind1`` (Huang's circular window from a 1-D window), ``kaiser``,
``lsqlin`` (via Octave's ``qp``: the same convex problem), ``regress`` (least squares via QR, ``X \\ y``) and
``cov`` (MATLAB's two-argument form returns the 2x2 matrix; Octave 7's returns a scalar) with ``corr2``
(the image package's calls ``cov``), ``blockproc`` (Octave 7's fails on 3-D arrays).

The scene is reduced with :func:`pixfuse.ops.wald.reduce_resolution` (Wald protocol; the same inputs go to both
sides), pixfuse runs each method through :func:`pixfuse.fuse` and the script prints, per method,
max |pixfuse - Octave| / (max - min of the Octave result).

Run (needs ``octave-cli`` with the image package)::

    PYTHONPATH=src python benchmarks/octave_check_pansharpen.py --toolbox /path/to/toolbox_m_files \\
        [--scene ../shared/data/pansharpening/grip_unina_pnn/imgGE1.mat] [--sensor GeoEye1] [--methods bt,gsa]
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import pixfuse  # noqa: E402
from pixfuse.io.mat import load_pansharpening_mat  # noqa: E402
from pixfuse.ops.resample import interp23tap  # noqa: E402
from pixfuse.ops.wald import reduce_resolution  # noqa: E402

DEFAULT_SCENE = ROOT / ".." / "shared" / "data" / "pansharpening" / "grip_unina_pnn" / "imgGE1.mat"

#: pixfuse method -> Octave expression (I_MS: interp23tap-upsampled MS, I_MS_LR: low-resolution MS)
CALLS: dict[str, str] = {
    "EXP": "interp23tap(I_MS_LR, ratio)",
    "bt": "Brovey(I_MS, I_PAN)",
    "gihs": "IHS(I_MS, I_PAN)",
    "gsa": "GSA(I_MS, I_PAN, I_MS_LR, ratio)",
    "bdsd": "BDSD(I_MS, I_PAN, ratio, size(I_MS, 1), sensor)",
    "bdsd-pc": "BDSD_PC(I_MS, I_PAN, ratio, sensor)",
    "pracs": "PRACS(I_MS, I_PAN, ratio)",
    "atwt": "ATWT(I_MS, I_PAN, ratio)",
    "awlp": "AWLP(I_MS, I_PAN, ratio)",
    "indusion": "Indusion(I_PAN, I_MS_LR, ratio)",
    "hpf": "HPF(I_MS, I_PAN, ratio)",
    "sfim": "SFIM(I_MS, I_PAN, ratio)",
}
SENSOR_METHODS = {"bdsd", "bdsd-pc"}

# --- Octave shims for MATLAB built-ins (own code, from MATLAB's documented algorithms) -------------------------
SHIMS: dict[str, str] = {
    "imresize.m": r"""
function B = imresize(A, scale, method)
  % MATLAB imresize(A, scale[, 'bicubic'|'nearest']): separable resampling with the documented
  % contributions (u = x/s + (1 - 1/s)/2), symmetric borders, antialiasing (kernel stretched by 1/s)
  % for bicubic downscaling; dimensions in order of increasing scale.
  if nargin < 3, method = 'bicubic'; end
  A = double(A);
  if isscalar(scale), scale = [scale scale]; end
  sz = size(A);
  outsz = ceil(scale .* sz(1:2));
  switch lower(method)
    case 'nearest'
      kern = @(x) double((x >= -0.5) & (x < 0.5)); kw = 1; aa = false;
    case {'bicubic', 'cubic'}
      kern = @cubic_kernel; kw = 4; aa = true;
    otherwise
      error('imresize shim: method %s not supported', method);
  end
  [~, order] = sort(scale);
  B = A;
  for d = order
    [W, I] = contributions(sz(d), outsz(d), scale(d), kern, kw, aa);
    B = resize_dim(B, d, W, I);
  end
end

function f = cubic_kernel(x)
  ax = abs(x); ax2 = ax .^ 2; ax3 = ax .^ 3;
  f = (1.5 * ax3 - 2.5 * ax2 + 1) .* (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) .* ((1 < ax) & (ax <= 2));
end

function [W, I] = contributions(in_len, out_len, s, kern, kw, aa)
  if s < 1 && aa
    h = @(x) s * kern(s * x); kw = kw / s;
  else
    h = kern;
  end
  x = (1:out_len)';
  u = x / s + 0.5 * (1 - 1 / s);
  left = floor(u - kw / 2);
  P = ceil(kw) + 2;
  I = left + (0:P-1);
  W = h(u - I);
  W = W ./ sum(W, 2);
  aux = [1:in_len, in_len:-1:1];
  I = aux(mod(I - 1, numel(aux)) + 1);
  keep = any(W, 1);
  W = W(:, keep); I = I(:, keep);
end

function B = resize_dim(A, d, W, I)
  if d == 2, A = permute(A, [2 1 3]); end
  sz = size(A); if numel(sz) < 3, sz(3) = 1; end
  Am = reshape(A, sz(1), []);
  Bm = zeros(size(W, 1), size(Am, 2));
  for j = 1:size(W, 2)
    Bm = Bm + W(:, j) .* Am(I(:, j), :);
  end
  B = reshape(Bm, [size(W, 1), sz(2), sz(3)]);
  if d == 2, B = permute(B, [2 1 3]); end
end
""",
    "fwind1.m": r"""
function h = fwind1(Hd, w1)
  % MATLAB fwind1(Hd, win) with one 1-D window: Huang's method (circularly rotated window) times fsamp2(Hd)
  n = numel(w1);
  t = linspace(-1, 1, n);
  [t1, t2] = meshgrid(t, t);
  t12 = sqrt(t1 .^ 2 + t2 .^ 2);
  out = (t12 < t(1)) | (t12 > t(end));
  t12(out) = 0;
  w = interp1(t, w1(:)', t12);
  w(out) = 0;
  hd = rot90(fftshift(rot90(Hd, 2)), 2);
  hs = fftshift(ifft2(hd));
  hs = rot90(hs, 2);
  h = hs .* w;
end
""",
    "kaiser.m": r"""
function w = kaiser(n, beta)
  if nargin < 2, beta = 0.5; end
  k = (0:n-1)';
  r = (k - (n - 1) / 2) / ((n - 1) / 2);
  w = besseli(0, beta * sqrt(1 - r .^ 2)) / besseli(0, beta);
end
""",
    "lsqlin.m": r"""
function x = lsqlin(C, d, A, b, Aeq, beq, lb, ub, x0, opts)
  % min ||C x - d||^2 s.t. A x <= b (and bounds): the same quadratic program, solved by Octave's qp
  H = C' * C; q = -C' * d;
  n = size(C, 2);
  if nargin < 7, lb = []; end
  if nargin < 8, ub = []; end
  if nargin < 5, Aeq = []; beq = []; end
  x = qp(zeros(n, 1), H, q, Aeq, beq, lb, ub, -inf(size(b(:))), A, b(:));
end
""",
    "cov.m": r"""
function c = cov(x, y)
  % MATLAB semantics: cov(x, y) of two vectors is the 2x2 covariance matrix of [x(:) y(:)] (Octave 7 returns
  % the scalar cross-covariance); N - 1 normalisation
  if nargin == 2
    X = [x(:), y(:)];
  else
    X = x; if isvector(X), X = X(:); end
  end
  Xc = X - mean(X, 1);
  c = (Xc' * Xc) / (size(X, 1) - 1);
end
""",
    "corr2.m": r"""
function r = corr2(a, b)
  % MATLAB corr2 (the image package's calls cov, shadowed above)
  a = double(a) - mean(double(a(:)));
  b = double(b) - mean(double(b(:)));
  r = sum(sum(a .* b)) / sqrt(sum(sum(a .* a)) * sum(sum(b .* b)));
end
""",
    "blockproc.m": r"""
function B = blockproc(A, blksz, fun)
  % MATLAB blockproc(A, [m n], fun) without options: fun(struct('data', block)) on each m x n block (all
  % channels; partial blocks at the right/bottom), outputs tiled in block order (Octave 7's fails on 3-D input)
  [h, w, ~] = size(A);
  r0 = 1:blksz(1):h; c0 = 1:blksz(2):w;
  rowsout = cell(1, numel(r0));
  for i = 1:numel(r0)
    blocks = cell(1, numel(c0));
    for j = 1:numel(c0)
      bs.data = A(r0(i):min(h, r0(i) + blksz(1) - 1), c0(j):min(w, c0(j) + blksz(2) - 1), :);
      blocks{j} = fun(bs);
    end
    rowsout{i} = cat(2, blocks{:});
  end
  B = cat(1, rowsout{:});
end
""",
    "regress.m": r"""
function b = regress(y, X)
  b = X \ y;
end
""",
}

DRIVER = r"""
pkg load image
addpath('{toolbox}');
addpath('{shims}');
load('{inp}');
ratio = double(ratio);
I_PAN = double(I_PAN); I_MS_LR = double(I_MS_LR);
I_MS = interp23tap(I_MS_LR, ratio);
out = struct();
{calls}
save('-v7', '{outp}', '-struct', 'out');
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--toolbox", required=True, help="folder with the toolbox .m files (not shipped with pixfuse)")
    ap.add_argument("--scene", default=str(DEFAULT_SCENE), help=".mat scene (I_PAN + I_MS or I_MS_LR)")
    ap.add_argument("--sensor", default="GeoEye1", help="toolbox sensor name (MTF gains)")
    ap.add_argument("--methods", default=",".join(CALLS), help="comma-separated subset of: " + ", ".join(CALLS))
    ap.add_argument("--octave", default="octave-cli")
    args = ap.parse_args()
    from scipy.io import loadmat, savemat

    if shutil.which(args.octave) is None:
        print(f"{args.octave} not found", file=sys.stderr)
        return 2
    tb = Path(args.toolbox).resolve()
    if not tb.is_dir():
        print(f"--toolbox {tb}: not a folder", file=sys.stderr)
        return 2
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in CALLS]
    if unknown:
        print(f"unknown methods: {unknown}", file=sys.stderr)
        return 2
    sc = load_pansharpening_mat(args.scene)
    red = reduce_resolution(sc.pan, sc.ms, args.sensor, sc.ratio)
    ratio = red.ratio
    with tempfile.TemporaryDirectory(prefix="pixfuse_octave_") as tmp:
        t = Path(tmp)
        shims = t / "shims"
        shims.mkdir()
        for name, text in SHIMS.items():
            (shims / name).write_text(text.lstrip())
        inp, outp = t / "in.mat", t / "out.mat"
        savemat(inp, {"I_PAN": red.pan, "I_MS_LR": red.ms, "ratio": float(ratio), "sensor": args.sensor})
        calls = "\n".join(f"out.{m.replace('-', '_')} = {CALLS[m]};" for m in methods)
        script = DRIVER.format(shims=shims, toolbox=tb, inp=inp, outp=outp, calls=calls)
        (t / "driver.m").write_text(script)
        t0 = time.perf_counter()
        r = subprocess.run([args.octave, "--no-gui", "--quiet", str(t / "driver.m")], capture_output=True,
                           text=True)
        t_oct = time.perf_counter() - t0
        if r.returncode != 0 or not outp.exists():
            print(r.stdout[-4000:], r.stderr[-4000:], sep="\n", file=sys.stderr)
            return 1
        oct_out = loadmat(outp)
    print(f"scene {Path(args.scene).name}: reduced PAN {red.pan.shape}, MS {red.ms.shape}, ratio {ratio}, "
          f"sensor {args.sensor}; Octave run {t_oct:.1f} s")
    print("| method | toolbox call | max abs diff | max abs diff / range |")
    print("|---|---|---|---|")
    for m in methods:
        ref = np.asarray(oct_out[m.replace("-", "_")], dtype=np.float64)
        if m == "EXP":
            ours = interp23tap(red.ms, ratio)
        else:
            kw = {"sensor": args.sensor} if m in SENSOR_METHODS else {}
            ours = np.asarray(pixfuse.fuse([red.pan, red.ms], m, **kw), dtype=np.float64)
        if ours.shape != ref.shape:
            print(f"| `{m}` | `{CALLS[m]}` | shape {ours.shape} vs {ref.shape} | - |")
            continue
        d = float(np.abs(ours - ref).max())
        print(f"| `{m}` | `{CALLS[m]}` | {d:.3g} | {d / float(ref.max() - ref.min()):.2g} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
