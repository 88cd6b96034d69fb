"""A regular (non-editable) install works on its own: shipped data, templates and every subpackage.

The repository is installed once per module with `pip install --no-deps --target SITE` and then run from
an unrelated working directory with PYTHONPATH=SITE, so nothing can be read from the checkout by accident
(the first test proves it). The dependencies come from the test interpreter's own environment.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

from bubblelens.core.resources import CURATED

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def _build_isolation_flags() -> list[str]:
    """Build with the test environment's setuptools when it is new enough: offline and seconds faster.

    Otherwise pip builds in an isolated environment from [build-system] requires, which needs PyPI.
    """
    try:
        import setuptools
    except ImportError:
        return []
    return ["--no-build-isolation"] if int(setuptools.__version__.split(".")[0]) >= 68 else []


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("install")
    target = root / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-input",
                           "--disable-pip-version-check", *_build_isolation_flags(), "--target", str(target),
                           str(REPO)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    work = root / "work"              # an unrelated working directory: no checkout on sys.path via ''
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target), "BUBBLELENS_CACHE": str(root / "cache"),
           "SOURCE_DATE_EPOCH": os.environ.get("SOURCE_DATE_EPOCH", "1796515200")}
    return {"root": root, "target": target, "work": work, "env": env}


def run(site: dict, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=site["work"], env=site["env"], capture_output=True,
                          text=True, timeout=timeout)


def cli(site: dict, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return run(site, "-m", "bubblelens", *args, timeout=timeout)


def test_layout_and_imports_come_from_the_install(site):
    pkg = site["target"] / "bubblelens"
    shipped = pkg / "_shipped"
    for name in ("market", "images", "costs", "reference", "critical_values", "claims.toml"):
        assert (shipped / "data" / name).exists(), name
    assert (shipped / "templates").is_dir() and any((shipped / "templates").iterdir())
    # Every package of the checkout is in the install (a subpackage left out fails only at import time).
    src = REPO / "bubblelens"
    packages = sorted(p.parent.relative_to(src).as_posix() for p in src.rglob("__init__.py"))
    missing = [p for p in packages if not (pkg / p / "__init__.py").is_file()]
    assert not missing, missing
    proc = run(site, "-c", "import bubblelens, bubblelens.core.resources as r; "
                           "print(bubblelens.__file__); print(r.RESOURCE_ROOT)")
    assert proc.returncode == 0, proc.stderr
    module_file, resource_root = proc.stdout.split()
    assert Path(module_file).is_relative_to(site["target"])
    assert Path(resource_root) == shipped.resolve()
    # Every module imports from the install (catches a module the refactor left pointing at an old path).
    proc = run(site, "-c", "import importlib, pkgutil, bubblelens\n"
                           "for m in pkgutil.walk_packages(bubblelens.__path__, 'bubblelens.'):\n"
                           "    if m.name != 'bubblelens.__main__': importlib.import_module(m.name)")
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_data_check_reads_the_shipped_copy(site):
    proc = cli(site, "data", "check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "_shipped" in proc.stdout and "0 error(s)" in proc.stdout


def test_data_add_refuses_the_installed_copy(site):
    market = site["target"] / "bubblelens" / "_shipped" / "data" / "market"
    before = {p.name: p.read_bytes() for p in market.iterdir() if p.is_file()}
    series = sorted(p.stem for p in market.glob("*.csv") if p.stem != "sources")[0]
    proc = cli(site, "data", "add", series, "--date", "2026-01-01", "--value", "1", "--source", "x")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "bubblelens data init DIR" in proc.stderr and "--data DIR" in proc.stderr
    assert {p.name: p.read_bytes() for p in market.iterdir() if p.is_file()} == before


def test_init_then_smoke_build_from_the_copy(site):
    mydata, out = site["root"] / "mydata", site["root"] / "out"
    proc = cli(site, "data", "init", str(mydata))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in mydata.iterdir()) == sorted(CURATED)
    assert f"--data {mydata}" in proc.stdout
    proc = cli(site, "build", "--profile", "smoke", "--out", str(out), "--data", str(mydata), "--device", "cpu",
               "--quiet", timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    pdf = out / "bubblelens-report.pdf"
    assert pdf.is_file() and len(PdfReader(pdf).pages) > 0
