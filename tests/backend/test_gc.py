"""`swr-local gc` beside a running server: what nothing references goes, the rest stays."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.backend.support import (
    basic,
    create_org,
    push_blob,
    push_image,
    sql,
)
from tests.conftest import BackendServer, start_backend, stop

DAY = 24 * 3600


@pytest.fixture
def server(tmp_path: Path) -> Iterator[BackendServer]:
    """A backend of its own: collecting with a zero age would touch other tests' blobs."""
    started = start_backend(tmp_path / "data")
    yield started
    stop(started.process)


def blob_file(server: BackendServer, digest: str) -> Path:
    algorithm, _, hexdigest = digest.partition(":")
    return server.data_dir / "blobs" / algorithm / hexdigest[:2] / hexdigest


def image_blobs(body: bytes) -> list[str]:
    manifest = json.loads(body)
    return [manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])]


def test_unreferenced_blobs_go_referenced_stay(server: BackendServer) -> None:
    org = create_org(server)
    _, kept_body, _ = push_image(server, f"{org}/kept", "v1", seed="kept")
    gone_digest, gone_body, _ = push_image(server, f"{org}/gone", "v1", seed="gone")
    auth = basic(server.admin_token)
    deleted = httpx.delete(f"{server.url}/v2/{org}/gone/manifests/{gone_digest}", auth=auth)
    assert deleted.status_code == 202

    output = server.admin("gc", "--max-age", "0")

    for digest in image_blobs(gone_body):
        assert f"blob {digest} " in output
        assert not blob_file(server, digest).exists()
        answer = httpx.get(f"{server.url}/v2/{org}/gone/blobs/{digest}", auth=auth)
        assert answer.status_code == 404
    for digest in image_blobs(kept_body):
        assert blob_file(server, digest).exists()
        answer = httpx.get(f"{server.url}/v2/{org}/kept/blobs/{digest}", auth=auth)
        assert answer.status_code == 200
    assert output.splitlines()[-1].startswith("freed 2 blobs, 0 uploads, ")
    assert sql(server, "SELECT count(*) FROM blobs") == [(2,)]


def test_fresh_uploads_and_blobs_stay(server: BackendServer) -> None:
    org = create_org(server)
    auth = basic(server.admin_token)
    lone = push_blob(server, f"{org}/app", b"pushed, manifest still to come")
    started = httpx.post(f"{server.url}/v2/{org}/app/blobs/uploads/", auth=auth)
    location = server.url + started.headers["location"]
    assert httpx.patch(location, content=b"first chunk", auth=auth).status_code == 202

    assert server.admin("gc") == "freed 0 blobs, 0 uploads, 0 bytes"

    status = httpx.get(location, auth=auth)
    assert status.status_code == 204 and status.headers["range"] == "0-10"
    assert blob_file(server, lone).exists()


def test_uploads_abandoned_for_a_day_go(server: BackendServer) -> None:
    org = create_org(server)
    auth = basic(server.admin_token)
    started = httpx.post(f"{server.url}/v2/{org}/app/blobs/uploads/", auth=auth)
    upload_id = started.headers["docker-upload-uuid"]
    location = server.url + started.headers["location"]
    assert httpx.patch(location, content=b"never finished", auth=auth).status_code == 202
    # Age the upload past the default 24 hours: its row and its file.
    sql(server, "UPDATE uploads SET updated = '2000-01-01T00:00:00.000000Z' WHERE id = ?",
        (upload_id,))
    past = time.time() - DAY - 60
    os.utime(server.data_dir / "uploads" / upload_id, (past, past))

    output = server.admin("gc")

    assert output.splitlines() == [f"upload {upload_id} 14", "freed 0 blobs, 1 uploads, 14 bytes"]
    assert httpx.get(location, auth=auth).status_code == 404
