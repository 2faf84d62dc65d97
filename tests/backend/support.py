"""Helpers shared by the backend tests: unique names, organizations, users and tokens, direct
SQL, error checks, an admin client, test images and an isolated skopeo.

Kept out of a `tests/backend/conftest.py` on purpose: a second module named `conftest` would
shadow the root one that test modules import `BackendServer` from. Fixtures here are named
`*_fixture` and registered under the name without the suffix by importing them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from tests.conftest import BackendServer


def unique(prefix: str) -> str:
    """A name no other test (nor an earlier run on a kept data directory) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def sql(backend: BackendServer, statement: str, params: tuple[object, ...] = ()) -> list[tuple]:
    """Run a statement on the server's metadata database, for states the API cannot reach."""
    with closing(sqlite3.connect(backend.data_dir / "metadata.sqlite3", timeout=10)) as conn:
        conn.execute("PRAGMA foreign_keys=ON")
        rows = conn.execute(statement, params).fetchall()
        conn.commit()
        return rows


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    """A Manage API error: the status, and the SWR error body (shape B) with `code`."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code
    assert isinstance(body["error_msg"], str) and body["error_msg"]
    assert body["errors"] == [{"errorCode": code, "errorMessage": body["error_msg"], "detail": ""}]
    assert response.headers["content-type"] == "application/json"


def admin_client(backend: BackendServer, timeout: float = 60) -> httpx.Client:
    """A client of the Manage API with the admin token; the caller closes it."""
    headers = {"X-Auth-Token": backend.admin_token}
    return httpx.Client(base_url=backend.url, headers=headers, timeout=timeout)


@pytest.fixture(name="admin")
def admin_fixture(backend: BackendServer) -> Iterator[httpx.Client]:
    with admin_client(backend) as client:
        yield client


@dataclass
class User:
    name: str
    user_id: str
    token: str


def create_org(backend: BackendServer, prefix: str = "reg") -> str:
    """A fresh organization owned by the admin, created through the Manage API."""
    name = unique(prefix)
    response = httpx.post(
        f"{backend.url}/v2/manage/namespaces",
        json={"namespace": name},
        headers={"X-Auth-Token": backend.admin_token},
    )
    assert response.status_code == 201, response.text
    return name


def create_user(backend: BackendServer, prefix: str = "user", account: str = "default") -> User:
    """A new user of `account` (made with `swr-local`), with an API token."""
    name = unique(prefix)
    user_id = backend.admin("user", "create", account, name)
    token = backend.admin("token", "create", account, name)
    return User(name, user_id, token)


def grant(backend: BackendServer, org: str, user: User, level: int) -> None:
    """Give a user a permission level on an organization (written directly: the Manage API's
    permission calls belong to another part of the backend)."""
    sql(
        backend,
        "INSERT OR REPLACE INTO namespace_access (namespace_id, user_id, auth, created, updated)"
        " SELECT id, ?, ?, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'"
        " FROM namespaces WHERE name = ?",
        (user.user_id, level, org),
    )


@pytest.fixture(name="org")
def org_fixture(backend: BackendServer) -> str:
    return create_org(backend)


MULTI_PLATFORM = ("--platforms", "linux/amd64,linux/arm64/v8")


def make_image(make_test_image: Path, layout: Path, tag: str, *options: str) -> str:
    """Add an image to an OCI layout (shared/tools/make-test-image); return its digest."""
    result = subprocess.run(
        [str(make_test_image), str(layout), tag, *options, "--quiet"],
        check=True, capture_output=True, text=True,
    )
    return result.stdout.strip()


@pytest.fixture(name="images", scope="session")
def images_fixture(tmp_path_factory: pytest.TempPathFactory, make_test_image: Path) -> Path:
    """One OCI layout with the test images every registry test copies from."""
    layout = tmp_path_factory.mktemp("images") / "layout"
    variants = {
        "v1": [],
        "v2": ["--text", "second"],
        "multi": list(MULTI_PLATFORM),
        "big": ["--size", "6000000", "--layers", "3"],
        "raw": ["--no-gzip"],
    }
    for tag, options in variants.items():
        make_image(make_test_image, layout, tag, *options)
    return layout


SkopeoRunner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(name="run_skopeo")
def run_skopeo_fixture(skopeo: str, tmp_path: Path) -> SkopeoRunner:
    """Run skopeo with a blob-info cache private to this test.

    skopeo running as root keeps its cache in /var/lib/containers/cache, shared by every run on
    the machine. Each call runs in its own mount namespace with the test's directory bound over
    that path, so what skopeo sends (mounts or uploads) depends only on this test's calls.
    """
    cache = tmp_path / "skopeo-cache"
    cache.mkdir()
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
    unshare = shutil.which("unshare")
    assert unshare, "unshare (util-linux) is needed to isolate skopeo's cache"
    Path("/var/lib/containers/cache").mkdir(parents=True, exist_ok=True)
    script = 'mount --bind "$0" /var/lib/containers/cache && exec "$@"'

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [unshare, "--mount", "--propagation", "private", "sh", "-c", script,
                   str(cache), skopeo, "--policy", str(policy), *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
        if check and result.returncode != 0:
            raise AssertionError(f"skopeo {' '.join(args)} failed:\n{result.stderr}")
        return result

    return run


def basic(token: str, user: str = "anyone") -> httpx.BasicAuth:
    return httpx.BasicAuth(user, token)


def bearer(backend: BackendServer, token: str, *scopes: str) -> dict[str, str]:
    """Authorization header with a registry JWT for `scopes`, fetched from /auth/token."""
    response = httpx.get(
        f"{backend.url}/auth/token",
        params=[("service", "swr-local"), *(("scope", scope) for scope in scopes)],
        auth=basic(token),
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def push_blob(
    backend: BackendServer, name: str, data: bytes, auth: httpx.Auth | None = None
) -> str:
    """Push one blob monolithically; return its digest."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    response = httpx.post(
        f"{backend.url}/v2/{name}/blobs/uploads/",
        params={"digest": digest},
        content=data,
        auth=auth or basic(backend.admin_token),
    )
    assert response.status_code == 201, response.text
    return digest


def oci_manifest(config: tuple[str, int], layers: list[tuple[str, int]]) -> bytes:
    document = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config[0], "size": config[1]},
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": s}
            for d, s in layers
        ],
    }
    return json.dumps(document).encode()


def push_image(
    backend: BackendServer, name: str, tag: str, seed: str = "x"
) -> tuple[str, bytes, int]:
    """Push a tiny image (config and one layer) under `tag`; return digest, bytes, image size."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "seed": seed}).encode()
    layer = f"layer {seed}".encode() * 10
    config_digest = push_blob(backend, name, config)
    layer_digest = push_blob(backend, name, layer)
    body = oci_manifest((config_digest, len(config)), [(layer_digest, len(layer))])
    response = httpx.put(
        f"{backend.url}/v2/{name}/manifests/{tag}",
        content=body,
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
        auth=basic(backend.admin_token),
    )
    assert response.status_code == 201, response.text
    return "sha256:" + hashlib.sha256(body).hexdigest(), body, len(config) + len(layer)
