"""The platforms' own readers, installed from the package registries on first use.

Tests judge an output by what the real consumer makes of it (aapt2, plistutil, @expo/config,
dotenv, react-native-config's readers). A fresh machine has none of them, so the test command
installs them: Debian packages with apt-get (CI and the dev machines run as root), npm packages
from ``tests/npm/package-lock.json`` with ``npm ci``. A tool that cannot be installed fails the
test that needs it with the command to run; it is never skipped.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

NPM_DIR = Path(__file__).resolve().parent / "npm"
_LOCK_DIR = Path(__file__).resolve().parent.parent / ".pytest_cache"


@contextmanager
def _installing(name: str) -> Iterator[None]:
    """One installer at a time, across test processes (two pytest runs may share a checkout)."""
    _LOCK_DIR.mkdir(exist_ok=True)
    with (_LOCK_DIR / f"install-{name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def debian_tool(binary: str, package: str) -> str:
    """The path of ``binary``, installing Debian's ``package`` when it is missing."""
    found = shutil.which(binary)
    if found is not None:
        return found
    with _installing("apt"):
        found = shutil.which(binary)
        if found is None:
            _apt_install(package)
            found = shutil.which(binary)
    if found is None:
        pytest.fail(f"{package} installed but {binary} is not on PATH")
    return found


def debian_file(path: str, package: str) -> Path:
    """A file that a Debian package ships (e.g. framework-res.apk), installing it if missing."""
    target = Path(path)
    if not target.exists():
        with _installing("apt"):
            if not target.exists():
                _apt_install(package)
    if not target.exists():
        pytest.fail(f"{package} installed but {path} is missing")
    return target


def _apt_install(package: str) -> None:
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        pytest.fail(
            f"this test needs Debian's {package}: run `sudo apt-get install -y {package}` "
            "(or the tests as root on a Debian-based machine, as CI does)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        # A fresh machine has no package lists yet.
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, check=False)
        result = subprocess.run(install, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            pytest.fail(f"apt-get install {package} failed:\n{result.stderr[-2000:]}")


def node() -> str:
    found = shutil.which("node")
    if found is None:
        return debian_tool("node", "nodejs")
    return found


def npm_modules() -> Path:
    """``tests/npm/node_modules``, installed exactly as ``package-lock.json`` pins it."""
    lockfile = NPM_DIR / "package-lock.json"
    modules = NPM_DIR / "node_modules"
    stamp = modules / ".nudge-lock-digest"
    digest = hashlib.sha256(lockfile.read_bytes()).hexdigest()
    if stamp.is_file() and stamp.read_text() == digest:
        return modules
    with _installing("npm"):
        if stamp.is_file() and stamp.read_text() == digest:
            return modules
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("these tests need Node.js and npm: install Debian's nodejs and npm")
        command = [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"]
        result = subprocess.run(command, cwd=NPM_DIR, capture_output=True, text=True)
        if result.returncode != 0:
            pytest.fail(f"npm ci in {NPM_DIR} failed:\n{result.stderr[-3000:]}")
        stamp.write_text(digest)
    return modules


def run_node(script: Path | str, *args: str, stdin: str | None = None) -> str:
    """Run a Node.js script with ``tests/npm/node_modules`` on its module path; its stdout."""
    modules = npm_modules()
    env = {**os.environ, "NODE_PATH": str(modules)}
    result = subprocess.run(
        [node(), str(script), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=NPM_DIR,
    )
    if result.returncode != 0:
        raise AssertionError(f"node {script} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout
