"""Seed the embedded backend through its public APIs: organizations, repositories, tags.

Organizations and repositories are created with the Manage API. One small OCI image is pushed
into each repository with the registry HTTP API (the blobs are uploaded once and mounted into
every other repository), and the remaining tags are copies made with the Manage API's
`POST .../tags` (`CreateRepoTag`), which is how SWR users retag without pulling.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass

import httpx

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


@dataclass(frozen=True)
class Shape:
    organizations: int = 20
    repositories: int = 10  # per organization
    tags: int = 5  # per repository

    def org(self, i: int) -> str:
        return f"bench-org-{i:02d}"

    def repo(self, j: int) -> str:
        return f"app-{j:02d}"

    def tag(self, k: int) -> str:
        return f"v{k + 1}"


@dataclass(frozen=True)
class Blob:
    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.data).hexdigest()

    def descriptor(self) -> dict[str, object]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data)}


def tiny_image() -> tuple[Blob, Blob, bytes]:
    """(config, layer, manifest bytes) of a one-file image; deterministic bytes."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        payload = b"hello from the benchmark\n"
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mtime = len(payload), 0
        tar.addfile(info, io.BytesIO(payload))
    layer = Blob(OCI_LAYER, gzip.compress(raw.getvalue(), mtime=0))
    diff_id = "sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()
    config = Blob(OCI_CONFIG, json.dumps({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "config": {"Cmd": ["cat", "/hello.txt"]},
    }, sort_keys=True).encode())
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": config.descriptor(), "layers": [layer.descriptor()],
    }, sort_keys=True).encode()
    return config, layer, manifest


class Seeder:
    def __init__(self, backend_url: str, token: str) -> None:
        # The registry accepts an API token directly as the Basic password.
        self.http = httpx.Client(
            base_url=backend_url, timeout=30.0, trust_env=False,
            headers={"X-Auth-Token": token}, auth=("admin", token),
        )
        self.config, self.layer, self.manifest = tiny_image()
        self.first_repo: str | None = None

    def close(self) -> None:
        self.http.close()

    def _ok(self, response: httpx.Response) -> None:
        if response.status_code >= 300:
            raise RuntimeError(
                f"{response.request.method} {response.request.url.path}: "
                f"{response.status_code} {response.text[:200]}"
            )

    def create_org(self, name: str) -> None:
        self._ok(self.http.post("/v2/manage/namespaces", json={"namespace": name}))

    def create_repo(self, org: str, repo: str) -> None:
        body = {"repository": repo, "is_public": False, "category": "other"}
        self._ok(self.http.post(f"/v2/manage/namespaces/{org}/repos", json=body))

    def push_blob(self, name: str, blob: Blob) -> None:
        """Mount from the first repository when possible, else a monolithic upload."""
        if self.first_repo is not None:
            params = {"mount": blob.digest, "from": self.first_repo}
            mounted = self.http.post(f"/v2/{name}/blobs/uploads/", params=params)
            if mounted.status_code == 201:
                return
        upload = self.http.post(
            f"/v2/{name}/blobs/uploads/", params={"digest": blob.digest}, content=blob.data,
            headers={"Content-Type": "application/octet-stream"},
        )
        self._ok(upload)

    def push_image(self, org: str, repo: str, tag: str) -> None:
        name = f"{org}/{repo}"
        self.push_blob(name, self.config)
        self.push_blob(name, self.layer)
        put = self.http.put(
            f"/v2/{name}/manifests/{tag}", content=self.manifest,
            headers={"Content-Type": OCI_MANIFEST},
        )
        self._ok(put)
        self.first_repo = self.first_repo or name

    def copy_tag(self, org: str, repo: str, source: str, destination: str) -> None:
        body = {"source_tag": source, "destination_tag": destination, "override": False}
        self._ok(self.http.post(f"/v2/manage/namespaces/{org}/repos/{repo}/tags", json=body))


def seed(backend_url: str, token: str, shape: Shape) -> int:
    """Create everything; returns the number of tags created."""
    seeder = Seeder(backend_url, token)
    created = 0
    try:
        for i in range(shape.organizations):
            org = shape.org(i)
            seeder.create_org(org)
            for j in range(shape.repositories):
                repo = shape.repo(j)
                seeder.create_repo(org, repo)
                seeder.push_image(org, repo, shape.tag(0))
                for k in range(1, shape.tags):
                    seeder.copy_tag(org, repo, shape.tag(0), shape.tag(k))
                created += shape.tags
    finally:
        seeder.close()
    return created
