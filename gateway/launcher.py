"""Starts the embedded backend for `swr-gateway serve` when no backend URL is configured.

The backend runs as its own process (`python -m swrlocal serve`), so it has a core of its own and
the gateway still meets it only over HTTP. This module is the one place in the gateway that
knows the embedded backend exists.

The child never outlives the gateway: `stop()` ends it on a normal shutdown, and on Linux the
kernel sends it SIGTERM when the gateway dies abruptly (`PR_SET_PDEATHSIG`). A child that exits
on its own is reported through `watch()`, so the gateway can stop instead of serving without
its backend.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

READY_TIMEOUT_SECONDS = 30.0
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


@dataclass
class EmbeddedBackend:
    process: subprocess.Popen[bytes]
    url: str
    admin_token: str
    _stopping: threading.Event = field(default_factory=threading.Event, repr=False)

    def stop(self) -> None:
        self._stopping.set()  # before the child exits, so the watcher knows it was asked to
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def watch(self, on_exit: Callable[[int], None]) -> threading.Thread:
        """Call `on_exit(status)` from a daemon thread if the child exits before `stop()`."""

        def wait() -> None:
            status = self.process.wait()
            if not self._stopping.is_set():
                on_exit(status)

        thread = threading.Thread(target=wait, name="embedded-backend-watch", daemon=True)
        thread.start()
        return thread


class LaunchError(RuntimeError):
    pass


def _die_with_parent(parent: int) -> Callable[[], None] | None:
    """A `preexec_fn` asking Linux to SIGTERM the child when the gateway dies; None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None

    def preexec() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the gateway died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def check_port_free(host: str, port: int) -> None:
    """Refuse a port something already listens on: readiness would otherwise see that server."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # As the backend's server binds: connections in TIME_WAIT do not count as "taken".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise LaunchError(
                f"backend port {host}:{port} is already in use ({exc.strerror}); stop what"
                " listens there, or choose another with --backend-port / SWR_BACKEND_PORT"
            ) from None


def answers_versions(url: str) -> bool:
    """True when `url` answers `GET /` with the SWR versions document (contract 7)."""
    try:
        with urllib.request.urlopen(f"{url}/", timeout=1) as response:
            body = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return isinstance(body, dict) and isinstance(body.get("versions"), list)


def start_embedded_backend(
    host: str, port: int, data_dir: Path, admin_token: str | None
) -> EmbeddedBackend:
    check_port_free(host, port)
    env = dict(os.environ)
    env.pop("SWR_BACKEND_URL", None)
    if admin_token:
        env["SWR_ADMIN_TOKEN"] = admin_token
    command = [
        sys.executable, "-m", "swrlocal", "serve",
        "--host", host, "--port", str(port), "--data-dir", str(data_dir),
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               preexec_fn=_die_with_parent(os.getpid()))
    url = f"http://{host}:{port}"
    try:
        wait_ready(process, url)
        token = admin_token or (data_dir / "admin-token").read_text().strip()
    except BaseException:  # LaunchError, but also a signal or Ctrl-C while waiting
        process.kill()
        process.wait()
        raise
    return EmbeddedBackend(process=process, url=url, admin_token=token)


def wait_ready(process: subprocess.Popen[bytes], url: str) -> None:
    """Until our child is alive and answers; another server on the port must not pass."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LaunchError(f"embedded backend exited with status {process.returncode}")
        if answers_versions(url):
            if process.poll() is None:
                return
            continue  # it answered, then died: the loop reports the exit
        time.sleep(0.1)
    raise LaunchError(f"embedded backend did not answer on {url} in time")
