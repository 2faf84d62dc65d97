"""Packages through the gateway: oras-py pushes, GraphQL lists, the download route streams."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.backend.test_packages import FILES, push_package
from tests.conftest import BackendServer, free_port, stop, wait_until_serving
from tests.gateway.conftest import Gateway, unique
from tests.gateway.test_accounts import new_caller

LIST = """query ($ns: String!) { packages(namespace: $ns) { totalCount nodes {
    namespace name versionCount size isPublic permission ownerAccount creatorName
    versions { version fileCount size
      files { folder filename path size sha512 downloadUrl } } } } }"""
ONE = """query ($ns: String!, $v: String!) { package(namespace: $ns, name: "tools/cli") {
    name version(version: $v) { files { path sha512 downloadUrl } } } }"""
SECOND = {"readme.txt": b"second release\n"}


@pytest.fixture(scope="module")
def package(backend: BackendServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    """`<org>/tools/cli` with versions 1.0.0 (FILES, in folders) and 2.0.0 (one file)."""
    org = unique("pkg")
    headers = {"X-Auth-Token": backend.admin_token}
    response = httpx.post(f"{backend.url}/v2/manage/namespaces", json={"namespace": org},
                          headers=headers)
    assert response.status_code == 201
    root = tmp_path_factory.mktemp("gateway-packages")
    push_package(backend, root / "v1", f"{org}/tools/cli:1.0.0", FILES)
    push_package(backend, root / "v2", f"{org}/tools/cli:2.0.0", SECOND)
    return org


async def files_of(gateway: Gateway, org: str, version: str = "1.0.0") -> dict[str, dict]:
    data = await gateway.data(ONE, {"ns": org, "v": version})
    return {f["path"]: f for f in data["package"]["version"]["files"]}


async def test_package_versions_and_files(gateway: Gateway, package: str) -> None:
    listed = (await gateway.data(LIST, {"ns": package}))["packages"]

    assert listed["totalCount"] == 1
    item = listed["nodes"][0]
    versions = {v["version"]: v for v in item.pop("versions")}
    assert item == {
        "namespace": package, "name": "tools/cli", "versionCount": 2,
        "size": sum(map(len, FILES.values())) + len(SECOND["readme.txt"]),
        "isPublic": False, "permission": "MANAGE", "ownerAccount": "default",
        "creatorName": "admin",
    }
    assert versions["2.0.0"]["fileCount"] == 1
    v1 = versions["1.0.0"]
    assert (v1["fileCount"], v1["size"]) == (4, sum(map(len, FILES.values())))
    files = {f["path"]: f for f in v1["files"]}
    assert set(files) == set(FILES)
    for path, content in FILES.items():
        folder = "/" + path.rpartition("/")[0]
        assert files[path]["folder"] == folder
        assert files[path]["filename"] == path.rpartition("/")[2]
        assert files[path]["size"] == len(content)
        assert files[path]["sha512"] == hashlib.sha512(content).hexdigest()
        url = urlsplit(files[path]["downloadUrl"])
        assert url.path == f"/download/packages/{package}/tools$cli/1.0.0/{path}"
        assert url.query.startswith("token=")


async def test_download_matches_sha256_and_sha512(gateway: Gateway, package: str) -> None:
    files = await files_of(gateway, package)

    for path, content in FILES.items():
        # a signed link works without any header, as a browser would follow it
        signed = await gateway.client.get(files[path]["downloadUrl"])
        # the bare path works with the usual token header
        bare = urlsplit(files[path]["downloadUrl"]).path
        with_header = await gateway.client.get(
            bare, headers={"Authorization": f"Bearer {gateway.token}"})

        for response in (signed, with_header):
            assert response.status_code == 200
            assert hashlib.sha256(response.content).digest() == hashlib.sha256(content).digest()
            assert hashlib.sha512(response.content).hexdigest() == files[path]["sha512"]
            assert response.headers["content-length"] == str(len(content))
            assert response.headers["accept-ranges"] == "bytes"
            assert response.headers["cache-control"] == "private"


async def test_range_requests(gateway: Gateway, package: str) -> None:
    files = await files_of(gateway, package)
    url = files["bin/tool.bin"]["downloadUrl"]
    content = FILES["bin/tool.bin"]
    whole = await gateway.client.get(url)

    middle = await gateway.client.get(url, headers={"Range": "bytes=1000-1999"})
    tail = await gateway.client.get(url, headers={"Range": "bytes=-7"})
    past_end = await gateway.client.get(url, headers={"Range": "bytes=999999999-"})

    assert middle.status_code == 206
    assert middle.content == content[1000:2000]
    assert middle.headers["content-range"] == f"bytes 1000-1999/{len(content)}"
    assert middle.headers["content-length"] == "1000"
    assert middle.headers["etag"] == whole.headers["etag"]
    assert whole.headers["etag"].startswith('"sha256:')
    assert tail.status_code == 206
    assert tail.content == content[-7:]
    assert past_end.status_code == 416
    assert past_end.json()["error"]["code"] == "BAD_USER_INPUT"


async def test_callers_without_rights_get_nothing(
    gateway: Gateway, backend: BackendServer, package: str
) -> None:
    stranger = new_caller(backend, user="sue")
    files = await files_of(gateway, package)
    url = files["readme.txt"]["downloadUrl"]
    bare = urlsplit(url).path
    other_file = urlsplit(files["docs/guide.md"]["downloadUrl"]).path
    token = urlsplit(url).query

    as_stranger = await gateway.client.get(bare, headers={"X-Auth-Token": stranger.token})
    anonymous = await gateway.client.get(bare)
    tampered = await gateway.client.get(f"{bare}?{token[:-6]}AAAAAA")
    wrong_file = await gateway.client.get(f"{other_file}?{token}")
    missing = await gateway.client.get(
        bare.replace("readme.txt", "nope.txt"), headers={"X-Auth-Token": gateway.token})
    listed = await gateway.post(LIST, {"ns": package}, token=stranger.token)
    one = await gateway.post(ONE, {"ns": package, "v": "1.0.0"}, token=stranger.token)

    assert as_stranger.status_code == 404
    assert as_stranger.json()["error"] == {
        "code": "NOT_FOUND", "backendCode": "SVCSTG.SWR.4040010",
        "message": f"package {package}/tools/cli not found"}
    for refused in (anonymous, tampered, wrong_file):
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "UNAUTHENTICATED"
    assert missing.status_code == 404
    assert listed["data"] == {"packages": {"totalCount": 0, "nodes": []}}
    assert one["data"] == {"package": None}


@pytest.fixture
def gateway_process(backend: BackendServer) -> Iterator[tuple[str, int]]:
    """A real gateway (uvicorn, aiohttp to the backend) in its own process: URL and pid."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--backend-url", backend.url],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url + "/healthz", process)
        yield url, process.pid
    finally:
        stop(process)


def peak_rss(pid: int) -> int:
    """The process's high-water mark of resident memory, in bytes (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_download_of_50_mb_runs_in_constant_memory(
    backend: BackendServer, gateway_process: tuple[str, int], tmp_path: Path
) -> None:
    # given: a 50 MiB package file and a real gateway process
    org = unique("big")
    headers = {"X-Auth-Token": backend.admin_token}
    assert httpx.post(f"{backend.url}/v2/manage/namespaces", json={"namespace": org},
                      headers=headers).status_code == 201
    big = os.urandom(50 * 2**20)
    push_package(backend, tmp_path, f"{org}/blob:1", {"data/big.bin": big, "small.txt": b"s"})
    url, pid = gateway_process
    path = f"/download/packages/{org}/blob/1"
    with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
        assert client.get(f"{path}/small.txt").content == b"s"  # warm up every code path
        before = peak_rss(pid)

        # when: the big file is streamed through it
        sha256, received = hashlib.sha256(), 0
        with client.stream("GET", f"{path}/data/big.bin") as response:
            assert response.status_code == 200
            for chunk in response.iter_raw():
                sha256.update(chunk)
                received += len(chunk)
        after = peak_rss(pid)

    # then: all bytes arrived, and the gateway's peak memory grew by far less than the file
    assert (received, sha256.digest()) == (len(big), hashlib.sha256(big).digest())
    growth = after - before
    print(f"gateway peak RSS {before / 2**20:.1f} MiB -> {after / 2**20:.1f} MiB "
          f"(+{growth / 2**20:.2f} MiB) for a {len(big) / 2**20:.0f} MiB download")
    assert growth < 8 * 2**20
