"""Shared fixtures: real servers on loopback, each with its own temporary data directory."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_TOOLS = REPO_ROOT.parent / "shared" / "tools"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_serving(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early with status {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # answering, even if with an error status
        except (urllib.error.URLError, OSError):
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


@dataclass
class BackendServer:
    url: str
    host: str  # host:port, the registry address
    admin_token: str
    data_dir: Path
    process: subprocess.Popen[bytes]

    def admin(self, *args: str) -> str:
        """Run a `swr-local` admin command against this server's data directory."""
        result = subprocess.run(
            [sys.executable, "-m", "swrlocal", *args, "--data-dir", str(self.data_dir)],
            check=True, capture_output=True, text=True,
        )
        return result.stdout.strip()


def start_backend(data_dir: Path, env: dict[str, str] | None = None) -> BackendServer:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "swrlocal", "serve", "--host", "127.0.0.1",
         "--port", str(port), "--data-dir", str(data_dir)],
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_serving(url + "/", process)
    token = (env or {}).get("SWR_ADMIN_TOKEN") or (data_dir / "admin-token").read_text().strip()
    return BackendServer(url, f"127.0.0.1:{port}", token, data_dir, process)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackendServer]:
    """One embedded backend for the whole session; tests use their own organization names."""
    server = start_backend(tmp_path_factory.mktemp("backend"))
    yield server
    stop(server.process)


@pytest.fixture(autouse=True)
def _clean_swr_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SWR_"):
            monkeypatch.delenv(name)


def debian_tool(binary: str, package: str) -> str:
    """Path of a program, installed from Debian's packages where it is missing."""
    path = shutil.which(binary)
    if path is None:
        quiet: dict[str, object] = {"check": True, "stdout": subprocess.DEVNULL}
        subprocess.run(["apt-get", "update", "-qq"], **quiet)  # type: ignore[call-overload]
        install = ["apt-get", "install", "-y", "-qq", package]
        subprocess.run(install, **quiet)  # type: ignore[call-overload]
        path = shutil.which(binary)
    assert path, f"{binary} could not be installed (Debian package {package})"
    return path


@pytest.fixture(scope="session")
def skopeo() -> str:
    return debian_tool("skopeo", "skopeo")


@pytest.fixture(scope="session")
def make_test_image() -> Path:
    tool = SHARED_TOOLS / "make-test-image"
    assert tool.exists(), f"{tool} is missing (the shared/ folder sits beside the repository)"
    return tool
