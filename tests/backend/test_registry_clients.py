"""The registry against real clients: skopeo (push, inspect, list, pull, delete, mount) and
oras-py (monolithic and chunked artifact pushes)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import oras.client
import pytest

from tests.backend.support import (  # noqa: F401  (fixtures are registered by import)
    SkopeoRunner,
    basic,
    images_fixture,
    org_fixture,
    run_skopeo_fixture,
    sql,
)

if TYPE_CHECKING:
    from tests.conftest import BackendServer


def layout_digest(layout: Path, tag: str) -> str:
    index = json.loads((layout / "index.json").read_text())
    for entry in index["manifests"]:
        if entry.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            return str(entry["digest"])
    raise AssertionError(f"tag {tag} not in {layout}")


def blob_digests(layout: Path) -> set[str]:
    return {f"sha256:{path.name}" for path in (layout / "blobs" / "sha256").iterdir()}


def creds(backend: BackendServer) -> str:
    return f"whoever:{backend.admin_token}"


def push(
    run_skopeo: SkopeoRunner, backend: BackendServer, images: Path, tag: str, target: str,
    *extra: str,
) -> None:
    run_skopeo("copy", *extra, "--dest-tls-verify=false", "--dest-creds", creds(backend),
               f"oci:{images}:{tag}", f"docker://{backend.host}/{target}")


def raw_manifest(run_skopeo: SkopeoRunner, backend: BackendServer, ref: str) -> bytes:
    result = run_skopeo("inspect", "--raw", "--tls-verify=false", "--creds", creds(backend),
                        f"docker://{backend.host}/{ref}")
    return result.stdout.encode()


def test_skopeo_push_inspect_pull_back(
    run_skopeo: SkopeoRunner, backend: BackendServer, images: Path, org: str, tmp_path: Path
) -> None:
    push(run_skopeo, backend, images, "v1", f"{org}/hello:v1")

    raw = raw_manifest(run_skopeo, backend, f"{org}/hello:v1")
    pushed = layout_digest(images, "v1")
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == pushed

    pulled = tmp_path / "pulled"
    run_skopeo("copy", "--src-tls-verify=false", "--src-creds", creds(backend),
               f"docker://{backend.host}/{org}/hello:v1", f"oci:{pulled}:v1")
    assert layout_digest(pulled, "v1") == pushed
    manifest = json.loads(raw)
    wanted = {manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])}
    assert wanted | {pushed} == blob_digests(pulled)

    # The repository was created by the push, private, owned by the pusher.
    rows = sql(backend, "SELECT r.kind, r.is_public, r.creator_name FROM repositories r"
               " JOIN namespaces n ON n.id = r.namespace_id WHERE n.name = ? AND r.name = ?",
               (org, "hello"))
    assert rows == [("image", 0, "admin")]


def test_skopeo_multi_arch_index(
    run_skopeo: SkopeoRunner, backend: BackendServer, images: Path, org: str, tmp_path: Path
) -> None:
    push(run_skopeo, backend, images, "multi", f"{org}/multi:latest", "--all")

    raw = raw_manifest(run_skopeo, backend, f"{org}/multi:latest")
    index_digest = layout_digest(images, "multi")
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == index_digest
    index = json.loads(raw)
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert len(index["manifests"]) == 2

    rows = sql(backend, "SELECT digest, is_index, config_digest, image_size FROM manifests m"
               " JOIN repositories r ON r.id = m.repository_id WHERE r.name = 'multi'"
               " AND r.namespace_id = (SELECT id FROM namespaces WHERE name = ?)", (org,))
    by_digest = {row[0]: row for row in rows}
    children = [by_digest[child["digest"]] for child in index["manifests"]]
    assert by_digest[index_digest][1:3] == (1, None)
    assert by_digest[index_digest][3] == sum(child[3] for child in children)
    assert all(child[1] == 0 and child[2] for child in children)

    pulled = tmp_path / "pulled"
    run_skopeo("copy", "--all", "--src-tls-verify=false", "--src-creds", creds(backend),
               f"docker://{backend.host}/{org}/multi:latest", f"oci:{pulled}:multi")
    assert layout_digest(pulled, "multi") == index_digest
    assert blob_digests(pulled) <= blob_digests(images)


def test_skopeo_docker_v2s2_records_image_size(
    run_skopeo: SkopeoRunner, backend: BackendServer, images: Path, org: str
) -> None:
    push(run_skopeo, backend, images, "v2", f"{org}/docker:v2", "--format", "v2s2")

    raw = raw_manifest(run_skopeo, backend, f"{org}/docker:v2")
    manifest = json.loads(raw)
    assert manifest["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    expected_size = manifest["config"]["size"] + sum(x["size"] for x in manifest["layers"])
    rows = sql(backend, "SELECT media_type, schema_version, is_index, config_digest, image_size"
               " FROM manifests WHERE digest = ?", (digest,))
    assert rows == [(manifest["mediaType"], 2, 0, manifest["config"]["digest"], expected_size)]

    response = httpx.get(f"{backend.url}/v2/{org}/docker/manifests/v2",
                         auth=basic(backend.admin_token))
    assert response.headers["content-type"] == manifest["mediaType"]
    assert response.headers["docker-content-digest"] == digest
    assert response.content == raw


def test_skopeo_big_layers_round_trip(
    run_skopeo: SkopeoRunner, backend: BackendServer, images: Path, org: str, tmp_path: Path
) -> None:
    push(run_skopeo, backend, images, "big", f"{org}/big:1")

    pulled = tmp_path / "pulled"
    run_skopeo("copy", "--src-tls-verify=false", "--src-creds", creds(backend),
               f"docker://{backend.host}/{org}/big:1", f"oci:{pulled}:big")
    assert layout_digest(pulled, "big") == layout_digest(images, "big")
    for digest in blob_digests(pulled):
        data = (pulled / "blobs" / "sha256" / digest[7:]).read_bytes()
        assert "sha256:" + hashlib.sha256(data).hexdigest() == digest
    assert max(p.stat().st_size for p in (pulled / "blobs/sha256").iterdir()) > 6_000_000


def test_skopeo_uncompressed_layers_keep_digests(
    run_skopeo: SkopeoRunner, backend: BackendServer, images: Path, org: str
) -> None:
    push(run_skopeo, backend, images, "raw", f"{org}/raw:v1", "--preserve-digests")

    raw = raw_manifest(run_skopeo, backend, f"{org}/raw:v1")
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == layout_digest(images, "raw")
    assert json.loads(raw)["layers"][0]["mediaType"].endswith(".tar")


def test_skopeo_list_tags_and_delete_by_digest(
    run_skopeo: SkopeoRunner, backend: BackendServer, images: Path, org: str
) -> None:
    push(run_skopeo, backend, images, "v1", f"{org}/app:v1")
    push(run_skopeo, backend, images, "v1", f"{org}/app:v1-again")
    push(run_skopeo, backend, images, "v2", f"{org}/app:v2")
    listed = run_skopeo("list-tags", "--tls-verify=false", "--creds", creds(backend),
                        f"docker://{backend.host}/{org}/app")
    assert json.loads(listed.stdout)["Tags"] == ["v1", "v1-again", "v2"]

    # skopeo resolves the tag and deletes the manifest by digest: both tags on it go.
    run_skopeo("delete", "--tls-verify=false", "--creds", creds(backend),
               f"docker://{backend.host}/{org}/app:v1")
    listed = run_skopeo("list-tags", "--tls-verify=false", "--creds", creds(backend),
                        f"docker://{backend.host}/{org}/app")
    assert json.loads(listed.stdout)["Tags"] == ["v2"]
    gone = httpx.get(f"{backend.url}/v2/{org}/app/manifests/{layout_digest(images, 'v1')}",
                     auth=basic(backend.admin_token))
    assert gone.status_code == 404
    assert gone.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"


def test_skopeo_registry_to_registry_copy_mounts(
    run_skopeo: SkopeoRunner, backend: BackendServer, images: Path, org: str
) -> None:
    push(run_skopeo, backend, images, "v1", f"{org}/source:v1")

    result = run_skopeo(
        "--debug", "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
        "--src-creds", creds(backend), "--dest-creds", creds(backend),
        f"docker://{backend.host}/{org}/source:v1", f"docker://{backend.host}/{org}/copy:v1",
    )
    assert f"/v2/{org}/copy/blobs/uploads/?from={org}%2Fsource&mount=" in result.stderr
    assert "mount OK" in result.stderr
    raw = raw_manifest(run_skopeo, backend, f"{org}/copy:v1")
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == layout_digest(images, "v1")


def oras_client(backend: BackendServer, tmp_path: Path) -> oras.client.OrasClient:
    client = oras.client.OrasClient(hostname=backend.host, insecure=True)
    client.login(username="anyone", password=backend.admin_token, hostname=backend.host,
                 config_path=str(tmp_path / "auth.json"))
    return client


def test_oras_monolithic_push_and_pull(
    backend: BackendServer, org: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # oras-py only pushes files below the working directory
    artifact = tmp_path / "artifact.txt"
    artifact.write_text("hello from oras\n")
    client = oras_client(backend, tmp_path)

    target = f"{backend.host}/{org}/artifact:v1"
    assert client.push(files=["artifact.txt"], target=target).status_code == 201
    out = tmp_path / "out"
    client.pull(target=target, outdir=str(out))

    assert (out / "artifact.txt").read_bytes() == artifact.read_bytes()
    assert client.get_tags(f"{backend.host}/{org}/artifact") == ["v1"]


def test_oras_chunked_push_and_pull(
    backend: BackendServer, org: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    big = tmp_path / "big.bin"
    big.write_bytes(hashlib.sha512(b"seed").digest() * (3 * 1024 * 1024 // 64 + 7))
    client = oras_client(backend, tmp_path)

    target = f"{backend.host}/{org}/artifact:chunked"
    response = client.push(files=["big.bin:application/octet-stream"], target=target,
                           do_chunked=True, chunk_size=1024 * 1024)
    assert response.status_code == 201
    out = tmp_path / "out"
    client.pull(target=target, outdir=str(out))

    assert (out / "big.bin").read_bytes() == big.read_bytes()
    client.delete_tag(f"{backend.host}/{org}/artifact", "chunked")
    assert client.get_tags(f"{backend.host}/{org}/artifact") == []
