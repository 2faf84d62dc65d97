"""The pull accelerator (contract 10.1): a pull-through cache of a reference registry started on
loopback, used by skopeo through the per-account address, and serving from its cache once the
upstream is gone."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.backend.support import (  # noqa: F401  (fixtures are registered by import)
    MULTI_PLATFORM,
    SkopeoRunner,
    make_image,
    run_skopeo_fixture,
    sql,
)
from tests.conftest import BackendServer, free_port, start_backend, stop, wait_until_serving


@dataclass
class Upstream:
    host: str
    root: Path  # the registry's storage directory
    process: subprocess.Popen[bytes]


def start_upstream(workdir: Path, htpasswd: Path | None = None) -> Upstream:
    registry = shutil.which("docker-registry")
    if registry is None:
        pytest.skip("docker-registry (Debian package docker-registry) is not installed")
    port = free_port()
    root = workdir / "storage"
    config = {
        "version": 0.1,
        "log": {"level": "warn"},
        "storage": {"filesystem": {"rootdirectory": str(root)}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}"},
    }
    if htpasswd is not None:
        config["auth"] = {"htpasswd": {"realm": "upstream", "path": str(htpasswd)}}
    (workdir / "registry.yml").write_text(json.dumps(config))  # JSON is YAML
    log = (workdir / "registry.log").open("wb")
    process = subprocess.Popen([registry, "serve", str(workdir / "registry.yml")],
                               stdout=log, stderr=subprocess.STDOUT)
    wait_until_serving(f"http://127.0.0.1:{port}/v2/", process)
    return Upstream(f"127.0.0.1:{port}", root, process)


def domain_id(backend: BackendServer, account: str = "default") -> str:
    return str(sql(backend, "SELECT id FROM domains WHERE name = ?", (account,))[0][0])


def accelerators(backend: BackendServer, token: str, account: str = "default") -> dict[str, str]:
    response = httpx.get(f"{backend.url}/v2/manage/domain/{domain_id(backend, account)}"
                         "/accelerators", headers={"X-Auth-Token": token})
    assert response.status_code == 200, response.text
    return dict(response.json())


def image_ref(accelerator: str, name: str) -> str:
    """skopeo's form of a pull through `http://host:port/<prefix>`: the prefix leads the name."""
    parts = urlsplit(accelerator)
    return f"docker://{parts.netloc}{parts.path}/{name}"


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[Upstream]:
    (tmp_path / "upstream").mkdir()
    server = start_upstream(tmp_path / "upstream")
    yield server
    stop(server.process)


@pytest.fixture
def mirrored(tmp_path: Path, upstream: Upstream) -> Iterator[BackendServer]:
    env = {"SWR_MIRROR_PORT": str(free_port()), "SWR_MIRROR_UPSTREAM": f"http://{upstream.host}"}
    server = start_backend(tmp_path / "backend", env)
    yield server
    stop(server.process)


def test_pull_through_then_from_cache(
    mirrored: BackendServer, upstream: Upstream, run_skopeo: SkopeoRunner, make_test_image: Path,
    tmp_path: Path,
) -> None:
    layout = tmp_path / "images"
    digest = make_image(make_test_image, layout, "v1", "--text", uuid.uuid4().hex)
    run_skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:v1",
               f"docker://{upstream.host}/library/hello:v1")
    address = accelerators(mirrored, mirrored.admin_token)["dockerhub_accelerator"]
    assert urlsplit(address).path.strip("/").isalnum()
    source = image_ref(address, "library/hello:v1")

    run_skopeo("copy", "--src-tls-verify=false", source, f"oci:{tmp_path / 'first'}:v1")
    assert json.loads((tmp_path / "first" / "index.json").read_text())["manifests"][0][
        "digest"] == digest

    stop(upstream.process)
    run_skopeo("copy", "--src-tls-verify=false", source, f"oci:{tmp_path / 'second'}:v1")
    inspected = json.loads(run_skopeo("inspect", "--tls-verify=false", source).stdout)
    assert inspected["Digest"] == digest
    # Docker's form: the mirror's origin with the upstream's own name, anonymous.
    origin = urlsplit(address).netloc
    docker_style = run_skopeo("inspect", "--raw", "--tls-verify=false",
                              f"docker://{origin}/library/hello:v1").stdout
    assert (layout / "blobs" / "sha256" / digest[7:]).read_text() == docker_style

    missing = run_skopeo("inspect", "--tls-verify=false",
                         image_ref(address, "library/absent:v1"), check=False)
    assert missing.returncode != 0
    overview = httpx.get(f"{mirrored.url}/v2/manage/mirror/images/overview",
                         headers={"X-Auth-Token": mirrored.admin_token}).json()
    # Two copies and one inspect through the account's prefix; the anonymous pull is nobody's.
    assert overview["download_times"] == 3

    # a cached blob answers ranges; a bad Range gets the OCI error body, not plain text
    layer = json.loads((layout / "blobs" / "sha256" / digest[7:]).read_bytes())["layers"][0]
    blob_url = f"{address}/v2/library/hello/blobs/{layer['digest']}"
    assert len(httpx.get(blob_url, headers={"Range": "bytes=0-9"}).content) == 10
    malformed = httpx.get(blob_url, headers={"Range": "garbage"})
    assert malformed.status_code == 400
    assert malformed.json()["errors"][0]["code"] == "RANGE_INVALID"
    beyond = httpx.get(blob_url, headers={"Range": f"bytes={layer['size']}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{layer['size']}"


def test_tampered_upstream_blob_is_refused(
    mirrored: BackendServer, upstream: Upstream, run_skopeo: SkopeoRunner, make_test_image: Path,
    tmp_path: Path,
) -> None:
    layout = tmp_path / "images"
    digest = make_image(make_test_image, layout, "v2", "--text", uuid.uuid4().hex)
    run_skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:v2",
               f"docker://{upstream.host}/library/other:v2")
    manifest = json.loads((layout / "blobs" / "sha256" / digest[7:]).read_bytes())
    layer = manifest["layers"][0]["digest"][7:]
    data = upstream.root / "docker/registry/v2/blobs/sha256" / layer[:2] / layer / "data"
    data.write_bytes(b"\0" * data.stat().st_size)  # same length, other bytes

    address = accelerators(mirrored, mirrored.admin_token)["dockerhub_accelerator"]
    result = run_skopeo("copy", "--src-tls-verify=false", image_ref(address, "library/other:v2"),
                        f"oci:{tmp_path / 'out'}:v2", check=False)
    assert result.returncode != 0
    assert "502" in result.stderr
    assert not (mirrored.data_dir / "blobs" / "sha256" / layer[:2] / layer).exists()
    blob_url = f"{address}/v2/library/other/blobs/sha256:{layer}"
    refused = httpx.get(blob_url)
    assert refused.status_code == 502
    assert refused.json()["errors"][0]["code"] == "DIGEST_INVALID"


def test_accelerators_are_per_account(mirrored: BackendServer) -> None:
    mine = accelerators(mirrored, mirrored.admin_token)
    assert mine == accelerators(mirrored, mirrored.admin_token)  # stable
    account = f"acct{uuid.uuid4().hex[:8]}"
    mirrored.admin("account", "create", account)
    mirrored.admin("user", "create", account, "dan")
    token = mirrored.admin("token", "create", account, "dan")
    theirs = accelerators(mirrored, token, account)
    assert set(mine) == {"dockerhub_accelerator", "gcr_accelerator"}
    assert len({*mine.values(), *theirs.values()}) == 4
    forbidden = httpx.get(
        f"{mirrored.url}/v2/manage/domain/{domain_id(mirrored)}/accelerators",
        headers={"X-Auth-Token": token},
    )
    assert forbidden.status_code == 403


def test_without_upstream_only_cache_is_served(tmp_path: Path) -> None:
    port = free_port()
    server = start_backend(tmp_path / "backend", {"SWR_MIRROR_PORT": str(port)})
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/v2/library/hello/manifests/v1")
        assert response.status_code == 404
        assert "no upstream registry is configured" in response.json()["errors"][0]["message"]
        assert httpx.get(f"http://127.0.0.1:{port}/v2/").json() == {}
        pushed = httpx.put(f"http://127.0.0.1:{port}/v2/library/hello/manifests/v1", content=b"{}")
        assert pushed.status_code == 405
    finally:
        stop(server.process)


def test_official_import_from_a_registry(
    mirrored: BackendServer, upstream: Upstream, run_skopeo: SkopeoRunner, make_test_image: Path,
    tmp_path: Path,
) -> None:
    backend = mirrored  # a server of its own: official images are public
    layout = tmp_path / "images"
    digest = make_image(make_test_image, layout, "v3", "--text", uuid.uuid4().hex)
    run_skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:v3",
               f"docker://{upstream.host}/demo/app:v3")
    name = f"fromreg{uuid.uuid4().hex[:6]}"
    out = subprocess.run(
        [sys.executable, "-m", "swrlocal", "official", "import",
         f"docker://{upstream.host}/demo/app:v3", name, "--data-dir", str(backend.data_dir)],
        check=True, capture_output=True, text=True,
    ).stdout
    assert out.split()[:2] == [f"library/{name}:v3", digest]
    tags = httpx.get(f"{backend.url}/v2/manage/dockerhub/namespaces/library/repos/{name}/tags",
                     headers={"X-Auth-Token": backend.admin_token}).json()
    assert [tag["name"] for tag in tags] == ["v3"]


def test_upstream_with_token_auth(
    backend: BackendServer, run_skopeo: SkopeoRunner, make_test_image: Path, tmp_path: Path
) -> None:
    """The gcr accelerator in front of another swr-local, whose registry speaks Docker's token
    flow; the credentials ride in the upstream URL."""
    org = f"up{uuid.uuid4().hex[:8]}"
    headers = {"X-Auth-Token": backend.admin_token}
    created = httpx.post(f"{backend.url}/v2/manage/namespaces", json={"namespace": org},
                         headers=headers)
    assert created.status_code == 201
    layout = tmp_path / "images"
    digest = make_image(make_test_image, layout, "v4", "--text", uuid.uuid4().hex)
    run_skopeo("copy", "--dest-tls-verify=false", "--dest-creds", f"admin:{backend.admin_token}",
               f"oci:{layout}:v4", f"docker://{backend.host}/{org}/pause:v4")
    env = {"SWR_MIRROR_PORT": str(free_port()),
           "SWR_MIRROR_GCR_UPSTREAM": f"http://admin:{backend.admin_token}@{backend.host}"}
    server = start_backend(tmp_path / "mirror", env)
    try:
        address = accelerators(server, server.admin_token)["gcr_accelerator"]
        run_skopeo("copy", "--src-tls-verify=false", image_ref(address, f"{org}/pause:v4"),
                   f"oci:{tmp_path / 'out'}:v4")
        pulled = json.loads((tmp_path / "out" / "index.json").read_text())
        assert pulled["manifests"][0]["digest"] == digest
    finally:
        stop(server.process)


def test_upstream_with_basic_auth(
    run_skopeo: SkopeoRunner, make_test_image: Path, tmp_path: Path
) -> None:
    htpasswd = shutil.which("htpasswd")
    if htpasswd is None:
        pytest.skip("htpasswd (apache2-utils) is not installed")
    (tmp_path / "upstream").mkdir()
    users = tmp_path / "htpasswd"
    users.write_text(subprocess.run([htpasswd, "-Bbn", "tester", "s3cret"], check=True,
                                    capture_output=True, text=True).stdout)
    upstream = start_upstream(tmp_path / "upstream", users)
    layout = tmp_path / "images"
    digest = make_image(make_test_image, layout, "v5", "--text", uuid.uuid4().hex)
    env = {"SWR_MIRROR_PORT": str(free_port()),
           "SWR_MIRROR_UPSTREAM": f"http://tester:s3cret@{upstream.host}"}
    server = start_backend(tmp_path / "mirror", env)
    try:
        run_skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "tester:s3cret",
                   f"oci:{layout}:v5", f"docker://{upstream.host}/library/basic:v5")
        address = accelerators(server, server.admin_token)["dockerhub_accelerator"]
        inspected = run_skopeo("inspect", "--tls-verify=false",
                               image_ref(address, "library/basic:v5")).stdout
        assert json.loads(inspected)["Digest"] == digest
    finally:
        stop(server.process)
        stop(upstream.process)


def test_prefix_in_the_host_name(
    tmp_path: Path, upstream: Upstream, run_skopeo: SkopeoRunner, make_test_image: Path
) -> None:
    """With SWR_MIRROR_DOMAIN (wildcard DNS in a real set-up) the address is a bare origin,
    as Docker's `registry-mirrors` requires; the account is read from the Host header."""
    layout = tmp_path / "images"
    digest = make_image(make_test_image, layout, "v6", "--text", uuid.uuid4().hex)
    run_skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:v6",
               f"docker://{upstream.host}/library/named:v6")
    port = free_port()
    env = {"SWR_MIRROR_PORT": str(port), "SWR_MIRROR_UPSTREAM": f"http://{upstream.host}",
           "SWR_MIRROR_DOMAIN": "mirror.test"}
    server = start_backend(tmp_path / "backend", env)
    try:
        address = accelerators(server, server.admin_token)["dockerhub_accelerator"]
        parts = urlsplit(address)
        assert parts.path == "" and parts.hostname.endswith(".mirror.test")
        response = httpx.get(
            f"http://127.0.0.1:{port}/v2/library/named/manifests/v6",
            headers={"Host": f"{parts.hostname}:{port}",
                     "Accept": "application/vnd.oci.image.manifest.v1+json"},
        )
        assert response.status_code == 200
        assert response.headers["docker-content-digest"] == digest
        overview = httpx.get(f"{server.url}/v2/manage/mirror/images/overview",
                             headers={"X-Auth-Token": server.admin_token}).json()
        assert overview == {"download_times": 1}
    finally:
        stop(server.process)


def test_index_with_a_large_layer_through_the_mirror(
    mirrored: BackendServer, upstream: Upstream, run_skopeo: SkopeoRunner, make_test_image: Path,
    tmp_path: Path,
) -> None:
    layout = tmp_path / "images"
    digest = make_image(make_test_image, layout, "multi", "--text", uuid.uuid4().hex,
                        *MULTI_PLATFORM, "--size", "3000000")
    run_skopeo("copy", "--all", "--dest-tls-verify=false", f"oci:{layout}:multi",
               f"docker://{upstream.host}/library/multi:1")
    address = accelerators(mirrored, mirrored.admin_token)["dockerhub_accelerator"]
    run_skopeo("copy", "--all", "--src-tls-verify=false", image_ref(address, "library/multi:1"),
               f"oci:{tmp_path / 'out'}:1")
    pulled = json.loads((tmp_path / "out" / "index.json").read_text())
    assert pulled["manifests"][0]["digest"] == digest
    index = json.loads((layout / "blobs" / "sha256" / digest[7:]).read_bytes())
    for child in index["manifests"]:  # every platform's manifest and blobs came through
        manifest = json.loads((layout / "blobs/sha256" / child["digest"][7:]).read_bytes())
        for layer in manifest["layers"]:
            copied = tmp_path / "out" / "blobs" / "sha256" / layer["digest"][7:]
            assert copied.stat().st_size == layer["size"]
