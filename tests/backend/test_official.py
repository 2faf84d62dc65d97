"""Official image center (contract 10.1): images imported by the admin command, listed for every
account, sized by their real blobs, and counted when skopeo pulls them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.backend.support import (  # noqa: F401  (fixtures are registered by import)
    MULTI_PLATFORM,
    admin_fixture,
    make_image,
    unique,
)
from tests.conftest import BackendServer, start_backend, stop


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory, make_test_image: Path) -> Path:
    root = tmp_path_factory.mktemp("official") / "layout"
    make_image(make_test_image, root, "v1")
    make_image(make_test_image, root, "multi", *MULTI_PLATFORM)
    return root


def blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.partition(":")[2]).read_bytes()


def tagged(layout: Path, tag: str) -> str:
    index = json.loads((layout / "index.json").read_bytes())
    return next(m["digest"] for m in index["manifests"]
                if m["annotations"]["org.opencontainers.image.ref.name"] == tag)


def image_size(layout: Path, digest: str) -> int:
    """config + layers of an image; for an index, the sum over its images."""
    manifest = json.loads(blob(layout, digest))
    if "manifests" in manifest:
        return sum(image_size(layout, child["digest"]) for child in manifest["manifests"])
    return manifest["config"]["size"] + sum(layer["size"] for layer in manifest["layers"])


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackendServer]:
    """A server of this module's own: official images are public, and would otherwise show up
    in the registry catalog other tests read from the shared server."""
    server = start_backend(tmp_path_factory.mktemp("official-backend"))
    yield server
    stop(server.process)


@pytest.fixture
def stranger(backend: BackendServer) -> Iterator[httpx.Client]:
    """A user of another account, with no rights anywhere."""
    account = unique("acct")
    backend.admin("account", "create", account)
    backend.admin("user", "create", account, "carol")
    token = backend.admin("token", "create", account, "carol")
    with httpx.Client(base_url=backend.url, headers={"X-Auth-Token": token}) as client:
        yield client


def test_imported_image_is_listed_with_real_sizes(
    backend: BackendServer, layout: Path, stranger: httpx.Client
) -> None:
    name = unique("hello")
    out = backend.admin("official", "import", f"oci:{layout}:v1", name, "--description", "Hi")
    assert out.split()[1] == tagged(layout, "v1")
    backend.admin("official", "import", f"oci:{layout}:multi", f"{name}:multi")

    listed = stranger.get("/v2/manage/dockerhub/repos", params={"image_name": name})
    assert listed.status_code == 200
    [item] = listed.json()
    assert (item["name"], item["namespace"], item["user"]) == (name, "library", "library")
    assert item["description"] == "Hi"
    assert item["pull_count"] == 0
    assert item["star_count"] == 0 and item["is_collected"] is False
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", item["last_updated"])

    detail = stranger.get(f"/v2/manage/dockerhub/namespaces/library/repos/{name}")
    assert detail.json() == item
    tags = stranger.get(f"/v2/manage/dockerhub/namespaces/library/repos/{name}/tags",
                        params={"offset": "0", "limit": "10"})
    assert tags.headers["content-range"] == "0-2/2"
    sizes = {tag["name"]: tag["size"] for tag in tags.json()}
    assert sizes == {"v1": image_size(layout, tagged(layout, "v1")),
                     "multi": image_size(layout, tagged(layout, "multi"))}
    assert sizes["multi"] > sizes["v1"] > 0


def test_official_images_are_not_in_own_lists(
    backend: BackendServer, layout: Path, admin: httpx.Client
) -> None:
    name = unique("solo")
    backend.admin("official", "import", f"oci:{layout}:v1", name)
    assert admin.get("/v2/manage/repos", params={"name": name}).json() == []
    missing = admin.get("/v2/manage/dockerhub/namespaces/library/repos/nothing-here")
    assert missing.status_code == 404


def test_pull_count_rises_with_skopeo_pulls(
    backend: BackendServer, layout: Path, admin: httpx.Client, skopeo: str, tmp_path: Path
) -> None:
    name = unique("pulled")
    backend.admin("official", "import", f"oci:{layout}:v1", name)
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
    for run in range(2):
        subprocess.run(
            [skopeo, "--policy", str(policy), "copy", "--src-tls-verify=false",
             "--src-creds", f"admin:{backend.admin_token}",
             f"docker://{backend.host}/library/{name}:v1", f"oci:{tmp_path / 'out'}:r{run}"],
            check=True, capture_output=True, timeout=120,
        )
    item = admin.get(f"/v2/manage/dockerhub/namespaces/library/repos/{name}").json()
    assert item["pull_count"] == 2


def test_import_refuses_a_tampered_layout(backend: BackendServer, tmp_path: Path,
                                          make_test_image: Path) -> None:
    root = tmp_path / "bad"
    # Own text, so no blob of it is in the store yet (a stored blob is not fetched again).
    make_image(make_test_image, root, "v1", "--text", unique("tampered"))
    manifest = json.loads(blob(root, tagged(root, "v1")))
    layer = root / "blobs" / "sha256" / manifest["layers"][0]["digest"].partition(":")[2]
    layer.write_bytes(b"x" * layer.stat().st_size)
    name = unique("bad")
    result = subprocess.run(
        [sys.executable, "-m", "swrlocal", "official", "import", f"oci:{root}:v1",
         name, "--data-dir", str(backend.data_dir)],
        capture_output=True, text=True,
    )
    assert result.returncode == 1
    assert "does not match its digest" in result.stderr
    listed = httpx.get(f"{backend.url}/v2/manage/dockerhub/repos", params={"image_name": name},
                       headers={"X-Auth-Token": backend.admin_token})
    assert listed.json() == []

