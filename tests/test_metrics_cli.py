"""CLI: `pixfuse metrics` (single and folder mode) and `pixfuse list-metrics`."""
from __future__ import annotations

import csv
import json

import numpy as np
from PIL import Image

from conftest import run_cli


def _imgs(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (40, 48), dtype=np.uint8)
    b = rng.integers(0, 256, (40, 48), dtype=np.uint8)
    f = ((a.astype(int) + b) // 2).astype(np.uint8)
    paths = {}
    for name, x in (("a", a), ("b", b), ("f", f)):
        (tmp_path / name).mkdir()
        for stem in ("x1", "x2"):
            p = tmp_path / name / f"{stem}.png"
            Image.fromarray(x if stem == "x1" else 255 - x).save(p)
        paths[name] = tmp_path / name
    return paths


def test_single_json_and_csv(tmp_path):
    p = _imgs(tmp_path)
    r = run_cli("metrics", p["f"] / "x1.png", "--sources", p["a"] / "x1.png", p["b"] / "x1.png",
                "--metrics", "en,qabf", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert set(d) == {"en", "qabf"} and d["qabf"]["convention"] == "VIFB" and 0 < d["qabf"]["value"] < 1
    import pixfuse

    f = np.array(Image.open(p["f"] / "x1.png"))
    a = np.array(Image.open(p["a"] / "x1.png"))
    b = np.array(Image.open(p["b"] / "x1.png"))
    assert d["qabf"]["value"] == pixfuse.evaluate(f, [a, b], ["qabf"])["qabf"]
    r = run_cli("metrics", p["f"] / "x1.png", "--sources", p["a"] / "x1.png", p["b"] / "x1.png", "-m", "sd", "--csv")
    assert r.returncode == 0, r.stderr
    rows = list(csv.reader(r.stdout.splitlines()))
    assert rows[0] == ["metric", "value", "convention"] and rows[1][0] == "sd"


def test_folder_mode_writes_rows_and_mean(tmp_path):
    p = _imgs(tmp_path)
    out = tmp_path / "scores.csv"
    r = run_cli("metrics", "--fused", p["f"], "--sources", p["a"], p["b"], "-m", "en,ssim", "-o", out)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(open(out)))
    assert [x["image"] for x in rows] == ["x1", "x2", "mean"]
    assert float(rows[2]["en"]) == (float(rows[0]["en"]) + float(rows[1]["en"])) / 2


def test_errors_and_listing(tmp_path):
    p = _imgs(tmp_path)
    r = run_cli("metrics", p["f"] / "x1.png", "--sources", p["a"] / "x1.png", "-m", "bogus")
    assert r.returncode == 2 and "unknown metric 'bogus'" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("metrics", p["f"] / "x1.png", "--sources", p["a"] / "x1.png", "-m", "scd")
    assert r.returncode == 2 and "exactly 2" in r.stderr
    r = run_cli("list-metrics", "--task", "ivif", "--json")
    assert r.returncode == 0
    names = {m["name"] for m in json.loads(r.stdout)}
    assert {"qabf", "vif", "fmi_w"} <= names
