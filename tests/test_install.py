"""`pip install .` works anywhere: the wheel holds one top-level package with its examples and page assets.

The wheel is built from the clone and installed, without its dependencies, into a fresh virtual environment
that borrows this one's installed libraries; then `jobland demo` and the review page's script run from a
folder outside the clone.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import time
import venv
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.slow


def _fresh_environment(tmp_path: Path) -> Path:
    """A virtual environment whose only JobLand is the wheel (this one's libraries serve as its dependencies)."""
    target = tmp_path / "venv"
    venv.create(target, with_pip=False)
    (packages,) = (target / "lib").glob("python3*/site-packages")
    # A plain path line: the libraries become importable, but this environment's editable JobLand does not.
    (packages / "borrowed.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return target


def test_the_wheel_installs_one_package_that_runs_the_demo_and_serves_the_page_outside_the_clone(
    tmp_path: Path, database_url: str
) -> None:
    dist, source = tmp_path / "dist", tmp_path / "source"
    # From a copy without build leftovers (setuptools reuses a build/ folder it finds).
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "__pycache__"))
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), "."]
    subprocess.run(build, cwd=source, check=True, capture_output=True, timeout=300)
    (wheel,) = dist.glob("jobland-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
        names = set(archive.namelist())
    assert {t for t in tops if not t.endswith(".dist-info")} == {"jobland"}, "no generic top-level names"
    assert {"jobland/templates/review.js", "jobland/examples/cv/alex-morgan.md"} <= names

    environment = _fresh_environment(tmp_path)
    python = environment / "bin" / "python"
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)]
    subprocess.run(install, check=True, capture_output=True, timeout=300)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBLAND_") and k != "PYTHONPATH"}
    env.update(JOBLAND_HOME=str(tmp_path / "home"), JOBLAND_EMAIL="alex.morgan@example.com", DATABASE_URL=database_url)
    where = subprocess.run(
        [str(python), "-c", "import jobland; print(jobland.__file__)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    )
    assert where.stdout.startswith(str(environment)), where.stdout + where.stderr

    demo = subprocess.run(
        [str(environment / "bin" / "jobland"), "demo", "--approve-all", "--format", "json"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert demo.returncode == 0, demo.stderr
    assert list((tmp_path / "home" / "outbox").glob("*.eml")), "the demo's approved packages were written"

    port = free_port()
    server = subprocess.Popen(
        [str(environment / "bin" / "jobland"), "serve", "--port", str(port)],
        cwd=elsewhere,
        env={**env, "JOBLAND_API_TOKEN": "install-test-token-0123456789"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stderr.read().decode()
            try:
                script = httpx.get(f"http://127.0.0.1:{port}/static/review.js", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the installed server did not start"
                time.sleep(0.2)
        assert script.status_code == 200 and script.text == (ROOT / "templates" / "review.js").read_text()
    finally:
        server.terminate()
        server.wait(timeout=30)
