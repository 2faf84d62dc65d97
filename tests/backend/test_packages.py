"""Software packages (contract 10.2): oras-py pushes, the REST API lists and serves the files."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from urllib.parse import quote

import httpx
import oras.client
import pytest

from tests.backend.support import (  # noqa: F401  (fixtures are registered by import)
    admin_fixture,
    assert_error,
    create_user,
    sql,
    unique,
)
from tests.conftest import BackendServer

TITLE = "org.opencontainers.image.title"
# Path inside the package -> content. oras-py titles a layer with the file's base name only,
# so the test names the folders through an annotation file, as `oras push` (Go) would send.
FILES = {
    "readme.txt": b"read me first\n",
    "docs/guide.md": b"# Guide\n\nSteps.\n",
    "docs/api/ref.txt": b"reference\n" * 50,
    "bin/tool.bin": hashlib.sha256(b"seed").digest() * 20000,  # 640000 bytes
}


def push_package(
    backend: BackendServer, workdir: Path, target: str, files: dict[str, bytes]
) -> None:
    for path, content in files.items():
        (workdir / path).parent.mkdir(parents=True, exist_ok=True)
        (workdir / path).write_bytes(content)
    annotations = {path: {TITLE: path} for path in files}
    (workdir / "annotations.json").write_text(json.dumps(annotations))
    client = oras.client.OrasClient(hostname=backend.host, insecure=True)
    client.auth.set_basic_auth("admin", backend.admin_token)
    cwd = os.getcwd()
    os.chdir(workdir)  # oras-py only pushes paths below the working directory
    try:
        client.push(files=list(files), target=f"{backend.host}/{target}",
                    annotation_file="annotations.json", quiet=True)
    finally:
        os.chdir(cwd)


@pytest.fixture
def package(admin: httpx.Client, backend: BackendServer, tmp_path: Path) -> tuple[str, str]:
    org = unique("pkg")
    assert admin.post("/v2/manage/namespaces", json={"namespace": org}).status_code == 201
    push_package(backend, tmp_path / "v1", f"{org}/tools/cli:1.0.0", FILES)
    push_package(backend, tmp_path / "v2", f"{org}/tools/cli:2.0.0",
                 {"readme.txt": b"second release\n"})
    return org, "tools/cli"


def test_package_is_listed_with_versions(admin: httpx.Client, package: tuple[str, str]) -> None:
    org, name = package
    listed = admin.get("/v2/manage/packages", params={"namespace": org}).json()
    assert [item["package"] for item in listed] == [name]
    item = listed[0]
    assert item["namespace"] == org
    assert item["num_versions"] == 2
    assert item["size"] == sum(map(len, FILES.values())) + len(b"second release\n")
    assert item["visibility"] == "private"
    assert item["self_auth"] == 7
    assert item["domain"] == "default"

    versions = admin.get(f"/v2/manage/namespaces/{org}/packages/tools$cli/versions").json()
    by_version = {v["version"]: v for v in versions}
    assert set(by_version) == {"1.0.0", "2.0.0"}
    assert by_version["1.0.0"]["num_files"] == 4
    assert by_version["1.0.0"]["size"] == sum(map(len, FILES.values()))
    assert by_version["2.0.0"]["num_files"] == 1
    assert by_version["1.0.0"]["CreatedAt"].endswith("Z")


def test_packages_and_images_stay_apart(admin: httpx.Client, package: tuple[str, str]) -> None:
    org, _ = package
    assert admin.get("/v2/manage/repos", params={"namespace": org}).json() == []
    missing = admin.get(f"/v2/manage/namespaces/{org}/repos/tools$cli")
    assert missing.status_code == 404


def test_files_carry_sizes_and_sha512(admin: httpx.Client, package: tuple[str, str]) -> None:
    org, _ = package
    url = f"/v2/manage/namespaces/{org}/packages/tools$cli/versions/1.0.0/file_paths"
    files = admin.get(url).json()
    found = {(f["folder"], f["filename"]): f for f in files}
    assert set(found) == {("/", "readme.txt"), ("/docs", "guide.md"),
                          ("/docs/api", "ref.txt"), ("/bin", "tool.bin")}
    for path, content in FILES.items():
        folder, _, filename = ("/" + path).rpartition("/")
        entry = found[(folder or "/", filename)]
        assert entry["size"] == len(content)
        assert entry["digest"] == hashlib.sha512(content).hexdigest()
        download = admin.get(entry["url"])
        assert download.status_code == 200
        assert hashlib.sha256(download.content).digest() == hashlib.sha256(content).digest()
        assert hashlib.sha512(download.content).hexdigest() == entry["digest"]


def test_sha512_is_recorded_when_blobs_land(
    backend: BackendServer, admin: httpx.Client, package: tuple[str, str]
) -> None:
    # Pushed but never listed: the registry recorded every SHA-512 as the bytes came in.
    digests = {"sha256:" + hashlib.sha256(c).hexdigest(): c for c in FILES.values()}
    for digest, content in digests.items():
        rows = sql(backend, "SELECT sha512 FROM blob_sha512 WHERE digest = ?", (digest,))
        assert rows == [(hashlib.sha512(content).hexdigest(),)]

    # A blob stored before that was done is hashed on its first listing instead.
    readme = "sha256:" + hashlib.sha256(FILES["readme.txt"]).hexdigest()
    sql(backend, "DELETE FROM blob_sha512 WHERE digest = ?", (readme,))
    org, _ = package
    url = f"/v2/manage/namespaces/{org}/packages/tools$cli/versions/1.0.0/file_paths"
    listed = {f["filename"]: f["digest"] for f in admin.get(url).json()}
    expected = hashlib.sha512(FILES["readme.txt"]).hexdigest()
    assert listed["readme.txt"] == expected
    assert sql(backend, "SELECT sha512 FROM blob_sha512 WHERE digest = ?", (readme,)) == [
        (expected,)
    ]


def test_download_by_folder_path(admin: httpx.Client, package: tuple[str, str]) -> None:
    org, _ = package
    base = f"/v2/manage/namespaces/{org}/packages/tools$cli/versions/1.0.0/file_paths"
    assert admin.get(f"{base}/$docs$api/ref.txt").content == FILES["docs/api/ref.txt"]
    assert admin.get(f"{base}/docs/api/ref.txt").content == FILES["docs/api/ref.txt"]
    assert admin.get(f"{base}/$/readme.txt").content == FILES["readme.txt"]
    assert admin.get(f"{base}/$docs/missing.txt").status_code == 404


def test_range_requests(admin: httpx.Client, package: tuple[str, str]) -> None:
    org, _ = package
    content = FILES["bin/tool.bin"]
    url = (f"/v2/manage/namespaces/{org}/packages/tools$cli/versions/1.0.0/file_paths/"
           f"{quote('$bin')}/tool.bin")
    part = admin.get(url, headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(content)}"
    assert part.content == content[1000:2000]
    tail = admin.get(url, headers={"Range": "bytes=-100"})
    assert tail.status_code == 206
    assert tail.content == content[-100:]
    beyond = admin.get(url, headers={"Range": f"bytes={len(content)}-"})
    assert_error(beyond, 416, "SVCSTG.SWR.4001025")
    assert beyond.headers["content-range"] == f"bytes */{len(content)}"
    several = admin.get(url, headers={"Range": "bytes=0-9, 20-29"})
    assert several.status_code == 206
    assert several.headers["content-type"].startswith("multipart/byteranges")


@pytest.mark.parametrize("value", ["garbage", "bytes=abc", "bytes=9-1", "bytes=-", "items=0-5"])
def test_malformed_range_gets_the_swr_body(
    admin: httpx.Client, package: tuple[str, str], value: str
) -> None:
    org, _ = package
    url = (f"/v2/manage/namespaces/{org}/packages/tools$cli/versions/1.0.0/file_paths/"
           f"{quote('$bin')}/tool.bin")
    assert_error(admin.get(url, headers={"Range": value}), 400, "SVCSTG.SWR.4001025")


def test_other_account_gets_nothing(
    backend: BackendServer, admin: httpx.Client, package: tuple[str, str]
) -> None:
    org, _ = package
    account = unique("acct")
    backend.admin("account", "create", account)
    token = create_user(backend, "bob", account).token
    base = f"/v2/manage/namespaces/{org}/packages/tools$cli/versions"
    with httpx.Client(base_url=backend.url, headers={"X-Auth-Token": token}) as other:
        assert other.get("/v2/manage/packages", params={"namespace": org}).json() == []
        assert other.get(base).status_code == 404
        assert other.get(f"{base}/1.0.0/file_paths").status_code == 404
        assert other.get(f"{base}/1.0.0/file_paths/$/readme.txt").status_code == 404
    assert admin.get(f"{base}/1.0.0/file_paths/$/readme.txt").status_code == 200
