"""Starts the embedded backend for `swr-gateway serve` when no backend URL is configured.

The backend runs as its own process (`python -m swrlocal serve`), so it has a core of its own and
the gateway still meets it only over HTTP. This module is the one place in the gateway that
knows the embedded backend exists.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

READY_TIMEOUT_SECONDS = 30.0


@dataclass
class EmbeddedBackend:
    process: subprocess.Popen[bytes]
    url: str
    admin_token: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class LaunchError(RuntimeError):
    pass


def start_embedded_backend(
    host: str, port: int, data_dir: Path, admin_token: str | None
) -> EmbeddedBackend:
    env = dict(os.environ)
    env.pop("SWR_BACKEND_URL", None)
    if admin_token:
        env["SWR_ADMIN_TOKEN"] = admin_token
    command = [
        sys.executable, "-m", "swrlocal", "serve",
        "--host", host, "--port", str(port), "--data-dir", str(data_dir),
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    url = f"http://{host}:{port}"
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LaunchError(f"embedded backend exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/", timeout=1):
                break
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    else:
        process.kill()
        raise LaunchError(f"embedded backend did not answer on {url} in time")

    token = admin_token or (data_dir / "admin-token").read_text().strip()
    return EmbeddedBackend(process=process, url=url, admin_token=token)
