"""`swr-gateway serve` as a process: the embedded backend starts, stops and dies with it."""

from __future__ import annotations

import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.launcher import LaunchError, answers_versions, wait_ready
from tests.conftest import BackendServer, free_port, stop, wait_until_serving


@dataclass
class Served:
    process: subprocess.Popen[str]
    backend_port: int

    def backend_pid(self) -> int:
        """The embedded backend: the gateway's one child process."""
        children = [pid for pid in _pids() if _stat(pid)[1] == self.process.pid]
        assert len(children) == 1, children
        return children[0]


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _stat(pid: int) -> tuple[str, int]:
    """(state, parent pid) of a process; ("X", 0) once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return "X", 0
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1])


def gone(pid: int, timeout: float = 20) -> bool:
    """Whether `pid` ends within `timeout` (a zombie nobody reaps counts as ended)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _stat(pid)[0] in {"X", "Z"}:
            return True
        time.sleep(0.05)
    return False


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start_serve(data_dir: Path, backend_port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(free_port()),
         "--backend-port", str(backend_port), "--data-dir", str(data_dir)],
        env={**os.environ, "SWR_GRAPHIQL": "0"}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    backend_port = free_port()
    process = start_serve(tmp_path / "data", backend_port)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()  # printed once the backend is ready
        assert first.startswith("GraphiQL:"), process.stderr.read() if process.stderr else ""
        health_url = first.split()[-1].replace("/graphql", "/healthz")
        wait_until_serving(health_url, process)  # type: ignore[arg-type]
        yield Served(process, backend_port)
    finally:
        if process.poll() is None:
            stop(process)  # type: ignore[arg-type]
        process.communicate(timeout=10)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_embedded_backend(served: Served, signum: int) -> None:
    child = served.backend_pid()

    served.process.send_signal(signum)

    assert served.process.wait(timeout=30) == 128 + signum
    assert gone(child)
    assert port_free(served.backend_port)


def test_backend_dies_with_a_killed_gateway(served: Served) -> None:
    child = served.backend_pid()

    served.process.kill()  # no shutdown code runs: the kernel's parent-death signal does it

    served.process.wait(timeout=10)
    assert gone(child)
    assert port_free(served.backend_port)


def test_gateway_exits_when_the_backend_dies(served: Served) -> None:
    os.kill(served.backend_pid(), signal.SIGKILL)

    assert served.process.wait(timeout=30) == 1
    _, err = served.process.communicate(timeout=10)
    assert "embedded backend exited unexpectedly with status -9" in err


def test_a_taken_backend_port_is_refused(tmp_path: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        process = start_serve(tmp_path / "data", port)
        out, err = process.communicate(timeout=30)

    assert process.returncode == 1
    assert out == ""
    assert err.strip().splitlines() == [
        f"swr-gateway: backend port 127.0.0.1:{port} is already in use (Address already in"
        " use); stop what listens there, or choose another with --backend-port /"
        " SWR_BACKEND_PORT"
    ]
    assert not (tmp_path / "data").exists()


class _AnyPage(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html>not a registry</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def foreign_url() -> Iterator[str]:
    """A web server that answers `GET /` with 200, but is no SWR backend."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _AnyPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_readiness_wants_the_versions_document(foreign_url: str, backend: BackendServer
                                               ) -> None:
    with urllib.request.urlopen(foreign_url + "/") as page:
        assert page.status == 200
    assert not answers_versions(foreign_url)
    assert answers_versions(backend.url)


def test_readiness_needs_our_child_alive(foreign_url: str) -> None:
    child = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])

    with pytest.raises(LaunchError, match="embedded backend exited with status 3"):
        wait_ready(child, foreign_url)


@pytest.mark.parametrize(("name", "value", "message"), [
    ("SWR_PORT", "abc", "SWR_PORT must be an integer, got 'abc'"),
    ("SWR_BACKEND_TIMEOUT", "10s", "SWR_BACKEND_TIMEOUT must be a number, got '10s'"),
])
def test_a_malformed_variable_is_one_line_naming_it(name: str, value: str, message: str
                                                    ) -> None:
    result = subprocess.run([sys.executable, "-m", "gateway", "serve"],
                            env={**os.environ, name: value}, capture_output=True, text=True,
                            timeout=60)

    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [f"swr-gateway: {message}"]
