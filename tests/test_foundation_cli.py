"""The real ``pixfuse`` command in a subprocess."""
from __future__ import annotations

import shutil

import numpy as np

from pixfuse.io import read_image, write_image

from conftest import data_path, run_cli


def _no_traceback(r):
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout


def test_fuse_single(tmp_path):
    ir = data_path("ivif", "tno", "ir", "36.png")
    vi = data_path("ivif", "tno", "vi", "36.png")
    out = tmp_path / "o" / "f.png"
    r = run_cli("fuse", ir, vi, "-m", "lp", "-o", out, "-p", "levels=3")
    assert r.returncode == 0, r.stderr
    img, meta = read_image(out)
    a, _ = read_image(ir)
    b, _ = read_image(vi)
    import pixfuse

    expect = pixfuse.fuse([a, b], "lp", levels=3)
    assert np.abs(img - expect).max() <= 0.5 / 255 + 1e-6
    # existing output is not replaced without --overwrite
    r2 = run_cli("fuse", ir, vi, "-m", "lp", "-o", out)
    assert r2.returncode == 2 and "exists" in r2.stderr
    _no_traceback(r2)


def test_fuse_errors_are_one_line(tmp_path):
    ir = data_path("ivif", "tno", "ir", "36.png")
    vi_big = data_path("ivif", "tno", "vi", "21.png")
    cases = [
        (["fuse", ir, vi_big, "-o", tmp_path / "x.png"], "source sizes differ"),
        (["fuse", ir, ir, "-m", "nosuch", "-o", tmp_path / "x.png"], "unknown method"),
        (["fuse", ir, ir, "-m", "lp", "-p", "foo=1", "-o", tmp_path / "x.png"], "unknown parameter"),
        (["fuse", ir, ir, "-m", "lp", "-p", "levels=50", "-o", tmp_path / "x.png"], "above its maximum"),
    ]
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    cases.append((["fuse", empty, ir, "-o", tmp_path / "x.png"], "empty"))
    copy = tmp_path / "in.png"
    shutil.copy(ir, copy)
    cases.append((["fuse", copy, ir, "-o", copy, "--overwrite"], "refusing to overwrite input"))
    for args, msg in cases:
        r = run_cli(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.strip().startswith("error:") and msg in r.stderr, (msg, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1
        _no_traceback(r)
    assert not (tmp_path / "x.png").exists()
    assert copy.read_bytes() == ir.read_bytes()


def test_batch_dirs(tmp_path):
    a, b, out = tmp_path / "ir", tmp_path / "vi", tmp_path / "out"
    a.mkdir()
    b.mkdir()
    for name in ("00537D.png", "00633D.png"):
        shutil.copy(data_path("ivif", "msrs", "ir", name), a / name)
        shutil.copy(data_path("ivif", "msrs", "vi", name), b / name)
    (a / "broken.png").write_text("not an image")
    shutil.copy(data_path("ivif", "msrs", "vi", "00858N.png"), b / "broken.png")
    shutil.copy(data_path("ivif", "msrs", "vi", "01023N.png"), b / "lonely.png")
    r = run_cli("fuse", "--dirs", a, "--dirs", b, "-o", out, "-m", "average")
    assert r.returncode == 1, r.stderr  # one item failed
    assert "fused 2" in r.stderr and "failed 1" in r.stderr and "broken" in r.stderr and "lonely" in r.stderr
    _no_traceback(r)
    assert sorted(p.name for p in out.iterdir()) == ["00537D.png", "00633D.png"]
    stamp = (out / "00537D.png").stat().st_mtime_ns
    (a / "broken.png").unlink()
    r = run_cli("fuse", "--dirs", a, "--dirs", b, "-o", out, "-m", "average")
    assert r.returncode == 0 and "skipped 2" in r.stderr
    assert (out / "00537D.png").stat().st_mtime_ns == stamp


def test_methods_and_info(tmp_path):
    r = run_cli("methods", "--json")
    assert r.returncode == 0
    import json

    rows = {m["name"]: m for m in json.loads(r.stdout)}
    assert "Burt" in rows["lp"]["citation"] and "Naidu" in rows["pca"]["citation"]
    r = run_cli("methods", "--task", "ivif")
    assert r.returncode == 0 and "lp" in r.stdout
    p = write_image(tmp_path / "g.png", np.full((12, 20), 0.5, np.float32), bit_depth=16)
    r = run_cli("info", p)
    assert r.returncode == 0 and "20x12" in r.stdout and "16-bit" in r.stdout


def test_demo(tmp_path):
    r = run_cli("demo", "-o", tmp_path / "demo")
    assert r.returncode == 0, r.stderr
    html = (tmp_path / "demo" / "index.html").read_text()
    for sub in ("ivif", "multi_focus", "multi_exposure"):
        assert f'src="{sub}/fused_' in html
        assert any((tmp_path / "demo" / sub).glob("fused_*.png"))
    assert str((tmp_path / "demo" / "index.html").resolve()) in r.stdout


def test_max_pixels_option(tmp_path):
    p = write_image(tmp_path / "a.png", np.zeros((30, 30), np.float32))
    r = run_cli("--max-pixels", "100", "info", p)
    assert r.returncode == 2 and "exceeds the limit of 100" in r.stderr
    _no_traceback(r)
    assert run_cli("--max-pixels", "1000", "info", p).returncode == 0


def test_readme_tables_match_registry():
    import subprocess
    import sys

    from conftest import ROOT

    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_readme_tables.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_command_module_map_and_lean_start_up(tmp_path):
    """`pixfuse CMD` imports only CMD's module: every map entry names the module that registers it; a fusion
    command imports neither pydantic (typer's coercion is bypassed for plain types) nor rich nor the metrics."""
    import subprocess
    import sys

    from conftest import ROOT

    code = (
        "import importlib, pixfuse.cli as c, pixfuse.cli._app as a\n"
        "for name, mod in sorted(c._COMMAND_MODULES.items()):\n"
        "    before = {x.name for x in a.app.registered_commands} | {g.name for g in a.app.registered_groups}\n"
        "    m = importlib.import_module('pixfuse.cli.' + mod)\n"
        "    owned = {x.name for x in a.app.registered_commands if x.callback.__module__ == m.__name__}\n"
        "    owned |= {g.name for g in a.app.registered_groups if g.typer_instance.registered_commands\n"
        "              and g.typer_instance.registered_commands[0].callback.__module__ == m.__name__}\n"
        "    assert name in owned, (name, mod, owned)\n"
        "c._load_commands()\n"
        "allnames = {x.name for x in a.app.registered_commands} | {g.name for g in a.app.registered_groups}\n"
        "assert allnames == set(c._COMMAND_MODULES), allnames ^ set(c._COMMAND_MODULES)\n"
        "print('ok')\n"
    )
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
    a = data_path("multi_focus", "lytro", "lytro_01_A.jpg")
    b = data_path("multi_focus", "lytro", "lytro_01_B.jpg")
    out = tmp_path / "f.png"
    code = (
        "import sys\n"
        f"sys.argv = ['pixfuse', 'fuse', '--task', 'multi_focus', '-o', {str(out)!r}, {str(a)!r}, {str(b)!r},"
        " '--bit-depth', '8', '-p', 'r=5']\n"
        "from pixfuse.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('pydantic', 'rich') or m.startswith('pixfuse.metrics')"
        " or m == 'pixfuse.cli.cmd_bench']\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stderr
    assert out.exists()
    # plain-type coercion: a bad integer is a usage error naming the option, a good one works
    r = run_cli("fuse", a, b, "--task", "multi_focus", "-o", tmp_path / "g.png", "--bit-depth", "x1")
    assert r.returncode == 2 and "--bit-depth" in r.stderr and "not a valid integer" in r.stderr
    _no_traceback(r)
