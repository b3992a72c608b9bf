"""Workbench end to end on real pairs: run, SIGKILL part-way, resume, report; config errors."""
from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, data_path, run_cli

PLUGIN = str(Path(__file__).resolve().parent / "_bench_metrics.py")
METHODS = ["average", "max", "lp:levels=2|3"]
METRICS = ["tb_mean", "tb_dist", "tb_slow"]


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _config(tmp: Path, store: Path) -> Path:
    tno = data_path("ivif", "tno")
    rs = data_path("ivif", "roadscene")
    cfg = tmp / "bench.toml"
    cfg.write_text(f"""
metrics = {json.dumps(METRICS)}

[run]
store = "{store}"
repeats = 1
warmup = 0
plugins = ["{PLUGIN}"]

[[datasets]]
path = "{tno}"
items = ["36", "cddfuse_07"]

[[datasets]]
path = "{rs}"
items = ["FLIR_05164"]
crop = 160

[[methods]]
name = "average"

[[methods]]
name = "max"

[[methods]]
name = "lp"
params = {{ levels = [2, 3] }}
""")
    return cfg


def _rows(store: Path):
    con = sqlite3.connect(store)
    try:
        return con.execute("SELECT dataset, item, method, params_hash, version, metric, convention, value "
                           "FROM results").fetchall(), con.execute(
            "SELECT dataset, item, method, params_hash, cache_path FROM fusions").fetchall()
    finally:
        con.close()


def test_run_kill_resume_report(tmp_path):
    store = tmp_path / "db" / "results.sqlite"
    cfg = _config(tmp_path, store)
    n_jobs = 3 * 4  # 3 items x 4 method variants
    expected = n_jobs * len(METRICS)
    # 1. start a serial run and SIGKILL it once a few jobs are stored
    proc = subprocess.Popen([sys.executable, "-m", "pixfuse", "bench", "run", str(cfg), "--workers", "0",
                             "--no-progress"], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.time() + 60
    n_before = 0
    try:
        while time.time() < deadline:
            if store.exists():
                try:
                    n_before = len(_rows(store)[0])
                except sqlite3.OperationalError:
                    n_before = 0
                if n_before >= 2 * len(METRICS):
                    break
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be killed: " + proc.stderr.read().decode()
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    rows, fusions = _rows(store)
    assert 0 < len(rows) < expected
    # every stored job is complete (fusion + all its metrics in one transaction)
    per_job = {}
    for r in rows:
        per_job.setdefault(r[:4], set()).add(r[5])
    assert set(per_job) == {f[:4] for f in fusions}
    assert all(v == set(METRICS) for v in per_job.values())
    n_killed = len(rows)

    # 2. resume (Dask when installed, else a process pool): only the missing jobs run
    r = run_cli("bench", "run", cfg, "--workers", "1", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert f"{expected - n_killed} new results, {n_killed} already stored" in r.stdout
    rows, fusions = _rows(store)
    keys = [r[:7] for r in rows]
    assert len(keys) == expected == len(set(keys))
    assert len(fusions) == n_jobs
    assert {r[0] for r in rows} == {"tno", "roadscene@crop160"}
    # 3. a third run has nothing to do
    r = run_cli("bench", "run", cfg, "--workers", "1", "--no-progress")
    assert r.returncode == 0 and "0 new results" in r.stdout and "nothing to do" in r.stderr

    # the stored values are the metrics of the cached (lossless) images
    from pixfuse.bench.worker import load_fused, load_plugins

    load_plugins([PLUGIN])
    import pixfuse

    by_key = {(r[0], r[1], r[2], r[3], r[5]): r[7] for r in rows}
    for d, item, m, ph, path in fusions:
        img = load_fused(path)
        if d == "roadscene@crop160":
            assert img.shape[:2] == (160, 160)
        assert by_key[(d, item, m, ph, "tb_mean")] == pytest.approx(pixfuse.evaluate(img, None, ["tb_mean"])["tb_mean"],
                                                                    abs=0, rel=1e-12)
    # lossless cache: the cached average equals a fresh fusion to 16-bit precision
    from pixfuse.io import read_image

    a, _ = read_image(data_path("ivif", "tno", "ir", "36.png"))
    b, _ = read_image(data_path("ivif", "tno", "vi", "36.png"))
    cached = next(load_fused(f[4]) for f in fusions if f[0] == "tno" and f[1] == "36" and f[2] == "average")
    assert np.abs(cached - pixfuse.fuse([a, b], "average")).max() <= 0.5 / 65535 + 1e-7

    # 4. report
    out = tmp_path / "report"
    r = run_cli("bench", "report", "--store", store, "-o", out, "--item", "36")
    assert r.returncode == 0, r.stderr
    summary = list(csv.DictReader(open(out / "summary.csv")))
    assert len(summary) == 2 * 4 * len(METRICS)
    con = sqlite3.connect(store)
    label_of = {(m, ph): lab for m, ph, lab in con.execute("SELECT method, params_hash, label FROM variants")}
    con.close()
    assert sorted(set(label_of.values())) == sorted({"average", "max", _label("lp", 2), _label("lp", 3)})
    for s in summary:
        vals = [v for (d, i, m, ph, k), v in by_key.items() if d == s["dataset"] and k == s["metric"]
                and label_of[(m, ph)] == s["method"]]
        assert float(s["mean"]) == pytest.approx(np.mean(vals), rel=1e-12)
        assert int(s["n"]) == len(vals)
    raw = list(csv.DictReader(open(out / "results.csv")))
    assert len(raw) == expected
    # tno, tb_mean: max has the largest mean grey -> rank 1, bold in md/tex/html
    tno = {(s["method"], s["metric"]): s for s in summary if s["dataset"] == "tno"}
    assert float(tno[("max", "tb_mean")]["rank"]) == 1.0 and tno[("max", "tb_mean")]["best"] == "1"
    best_mean = float(tno[("max", "tb_mean")]["mean"])
    md = (out / "report.md").read_text()
    dec = _decimals([float(s["mean"]) for s in summary if s["dataset"] == "tno" and s["metric"] == "tb_mean"])
    assert f"**{best_mean:.{dec}f} ± " in md
    assert "tb_mean ↑" in md and "tb_dist ↓" in md and "Friedman" in md and "Timing protocol" in md
    tex = (out / "report.tex").read_text()
    assert rf"\textbf{{{best_mean:.{dec}f} $\pm$" in tex and r"$\uparrow$" in tex
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 2 * (2 + 4)  # sources + 4 methods, thumbnail + zoom
    assert "<svg" in html and "Kendall" in html and "Nemenyi" in html and "<script>" in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")  # self-contained


def _label(method, levels):
    from pixfuse.bench.config import make_variant

    return make_variant(method, {"levels": levels}).label


def _decimals(vals):
    from pixfuse.bench.report import decimals_for

    return decimals_for(np.array(vals))


def test_variants_and_hashes():
    from pixfuse.bench.config import expand_grid, make_variant, parse_method_spec
    from pixfuse.registry import get_method

    default_levels = get_method("lp").params["levels"].default
    assert make_variant("lp").params_hash == make_variant("lp", {"levels": default_levels}).params_hash
    assert make_variant("lp", {"levels": "3"}).params_hash == make_variant("lp", {"levels": 3}).params_hash
    vs = expand_grid(parse_method_spec("lp:levels=2|3|2"))
    assert [v.label for v in vs] == ["lp(levels=2)", "lp(levels=3)"] or default_levels in (2, 3)
    assert len({v.params_hash for v in vs}) == len(vs) == 2


def test_bad_config_fails_before_work(tmp_path):
    from pixfuse.bench.config import load_config, resolve
    from pixfuse.bench.worker import load_plugins
    from pixfuse.errors import PixfuseError

    load_plugins([PLUGIN])
    store = tmp_path / "db" / "s.sqlite"
    cfg = _config(tmp_path, store)
    text = cfg.read_text()
    bad_method = tmp_path / "m.toml"
    bad_method.write_text(text.replace('name = "max"', 'name = "no_such_method"'))
    r = run_cli("bench", "run", bad_method)
    assert r.returncode == 2 and "no_such_method" in r.stderr and "Traceback" not in r.stderr
    for old, new, word in [('"tb_dist"', '"no_such_metric"', "no_such_metric"),
                           ("levels = [2, 3]", "levels = [2, 99]", "levels"),
                           ("crop = 160", "crop = -1", "crop"),
                           ("[run]", "[run]\nrepeat = 3", "repeat")]:
        bad = tmp_path / "bad.toml"
        bad.write_text(text.replace(old, new))
        with pytest.raises(PixfuseError, match=word):
            resolve(load_config(bad))
    with pytest.raises(PixfuseError, match="no_such_folder"):
        cfgm = load_config(cfg)
        cfgm.datasets = [dataclasses.replace(cfgm.datasets[0], path=str(tmp_path / "no_such_folder"))]
        resolve(cfgm)
    assert not store.exists()  # nothing was started
