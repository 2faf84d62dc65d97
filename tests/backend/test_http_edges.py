"""HTTP edges of the backend: wrong methods, bad ranges, clients that go away mid-request."""

from __future__ import annotations

import base64
import hashlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from swrlocal import byteranges
from tests.backend.support import (  # noqa: F401  (fixtures are registered by import)
    admin_fixture,
    assert_error,
    basic,
    org_fixture,
    push_blob,
)
from tests.conftest import BackendServer, free_port, stop, wait_until_serving

METHOD_NOT_ALLOWED = "SVCSTG.SWR.4001025"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/v2/manage/namespaces", "GET, HEAD, POST"),
        ("PUT", "/v2/manage/namespaces/{org}", "DELETE, GET, HEAD"),
        ("POST", "/v2/manage/repos", "GET, HEAD"),
        ("PUT", "/v2/manage/namespaces/{org}/repos/app", "DELETE, GET, HEAD, PATCH"),
        ("PATCH", "/v2/manage/namespaces/{org}/repos/app/tags/v1", "DELETE, GET, HEAD"),
        ("DELETE", "/v2/manage/packages", "GET, HEAD"),
        ("PUT", "/v3/manage/pipelinegroups", "GET, HEAD, POST"),
        ("POST", "/v3/manage/pipelines/some-id", "DELETE, GET, HEAD, PUT"),
    ],
)
def test_wrong_method_on_known_path_is_405_with_allow(
    admin: httpx.Client, org: str, method: str, path: str, allow: str
) -> None:
    # when a path the API serves is called with a method it does not serve
    response = admin.request(method, path.format(org=org), json={})

    # then the answer is 405 with the SWR body and every method the path takes
    assert_error(response, 405, METHOD_NOT_ALLOWED)
    assert response.headers["allow"] == allow


def test_unknown_path_is_still_404(admin: httpx.Client) -> None:
    assert_error(admin.put("/v2/manage/no-such-thing"), 404, "SVCSTG.SWR.4040083")
    assert_error(admin.get("/v2/not/a/registry/url"), 404, "SVCSTG.SWR.4040083")


def test_registry_paths_keep_their_oci_405(backend: BackendServer, org: str) -> None:
    # a registry URL with a method the registry does not take keeps the OCI error body
    digest = push_blob(backend, f"{org}/app", b"layer")
    response = httpx.post(
        f"{backend.url}/v2/{org}/app/blobs/{digest}", auth=basic(backend.admin_token)
    )
    assert response.status_code == 405
    assert response.json()["errors"][0]["code"] == "UNSUPPORTED"
    assert hashlib.sha256(b"layer").hexdigest() in digest


@pytest.mark.parametrize(
    ("header", "verdict"),
    [
        (None, None),
        ("bytes=0-9", None),
        ("bytes=-5, 3-", None),
        ("bytes=0-999", None),  # an end past the file is cut, not refused
        ("garbage", 400),
        ("bytes=", 400),
        ("bytes=x-1", 400),
        ("bytes=5-1", 400),
        ("lines=0-1", 400),
        ("bytes=100-", 416),
        ("bytes=0-1, 100-200", 416),
        ("bytes=-0", 416),
    ],
)
def test_range_verdicts(header: str | None, verdict: int | None) -> None:
    assert byteranges.problem(header, 100) == verdict


def test_registry_blob_ignores_a_malformed_range(backend: BackendServer, org: str) -> None:
    # RFC 9110 lets a server ignore a Range it cannot use: the whole blob is served
    data = bytes(range(256))
    digest = push_blob(backend, f"{org}/app", data)
    response = httpx.get(
        f"{backend.url}/v2/{org}/app/blobs/{digest}",
        headers={"Range": "garbage"}, auth=basic(backend.admin_token),
    )
    assert response.status_code == 200
    assert response.content == data


@pytest.fixture
def logged_backend(tmp_path: Path) -> Iterator[tuple[BackendServer, Path]]:
    """A backend of its own whose log (stderr) the test reads."""
    port = free_port()
    log_path = tmp_path / "backend.log"
    data_dir = tmp_path / "data"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "swrlocal", "serve", "--host", "127.0.0.1",
             "--port", str(port), "--data-dir", str(data_dir)],
            stdout=log, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url + "/", process)
        token = (data_dir / "admin-token").read_text().strip()
        yield BackendServer(url, f"127.0.0.1:{port}", token, data_dir, process), log_path
    finally:
        stop(process)


def _half_patch(backend: BackendServer, path: str, request_id: str, sent: bytes) -> None:
    """Send a PATCH announcing twice the bytes sent, then close the connection."""
    credentials = base64.b64encode(f"admin:{backend.admin_token}".encode()).decode()
    head = (
        f"PATCH {path} HTTP/1.1\r\nHost: {backend.host}\r\n"
        f"Authorization: Basic {credentials}\r\nX-Request-Id: {request_id}\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Length: {2 * len(sent)}\r\n\r\n"
    )
    host, port = backend.host.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode() + sent)


def _client_closed_count(backend: BackendServer) -> float:
    text = httpx.get(f"{backend.url}/metrics").text
    for line in text.splitlines():
        if line.startswith("swrlocal_http_requests_total{") and 'status="499"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_client_gone_mid_upload_is_logged_once_and_resumable(
    logged_backend: tuple[BackendServer, Path],
) -> None:
    backend, log_path = logged_backend
    auth = basic(backend.admin_token)
    created = httpx.post(f"{backend.url}/v2/manage/namespaces", json={"namespace": "gone"},
                         headers={"X-Auth-Token": backend.admin_token})
    assert created.status_code == 201, created.text
    data = bytes(range(256)) * 400
    start = httpx.post(f"{backend.url}/v2/gone/app/blobs/uploads/", auth=auth)
    location = backend.url + start.headers["location"]
    first = httpx.patch(location, content=data[:1000], auth=auth)
    assert first.headers["range"] == "0-999"

    # when a client sends half of its next chunk and goes away
    _half_patch(backend, start.headers["location"], "half-sent-patch", data[1000:30000])
    deadline = time.monotonic() + 30
    while _client_closed_count(backend) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)

    # then it counts as 499 (client closed), never 500, and is logged on one line, no traceback
    assert _client_closed_count(backend) == 1
    assert 'status="500"' not in httpx.get(f"{backend.url}/metrics").text
    log = log_path.read_text()
    lines = [line for line in log.splitlines() if "half-sent-patch" in line]
    assert len(lines) == 1 and " INFO " in lines[0] and "client closed" in lines[0]
    assert "Traceback" not in log and "ClientDisconnect" not in log

    # and the upload resumes from the last whole chunk
    status = httpx.get(location, auth=auth)
    assert status.status_code == 204 and status.headers["range"] == "0-999"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    rest = httpx.put(location, params={"digest": digest}, content=data[1000:], auth=auth)
    assert rest.status_code == 201, rest.text
    assert httpx.get(f"{backend.url}/v2/gone/app/blobs/{digest}", auth=auth).content == data
