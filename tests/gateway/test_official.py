"""Official images and the pull accelerator through GraphQL."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.conftest import BackendServer, free_port, start_backend, stop
from tests.gateway.conftest import Gateway, open_gateway, unique
from tests.gateway.test_accounts import codes, new_caller

IMAGES = """query ($name: String!) { officialImages(filter: {name: $name}) { totalCount
    nodes { id namespace name description pullCount starCount isCollected updatedAt
      versions { totalCount nodes { name size updatedAt } } } } }"""
ONE = """query ($name: String!) { officialImage(namespace: "library", name: $name) {
    name description versions(first: 1) { totalCount pageInfo { hasNextPage }
    nodes { name } } } }"""
NODE = 'query ($id: ID!) { node(id: $id) { ... on OfficialImage { namespace name } } }'
ACCELERATOR = "{ viewer { accelerator { dockerhub gcr pullCount } } }"
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture(scope="module")
def own_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackendServer]:
    """A server of these tests' own: official images are public to every account, and must
    not show up in the catalogs other tests read from the shared server."""
    server = start_backend(tmp_path_factory.mktemp("gateway-official"))
    yield server
    stop(server.process)


@pytest.fixture
async def official_gateway(own_backend: BackendServer) -> AsyncIterator[Gateway]:
    async for gw in open_gateway(own_backend.url, own_backend.admin_token):
        yield gw


async def test_official_images_with_versions(
    official_gateway: Gateway, own_backend: BackendServer, image_layout: Path
) -> None:
    gateway, backend = official_gateway, own_backend
    # given: an official image with two versions, imported by the admin command
    name = unique("os")
    out = backend.admin("official", "import", f"oci:{image_layout}:v1", f"{name}:v1",
                        "--description", "A base image")
    backend.admin("official", "import", f"oci:{image_layout}:v1", f"{name}:v2")
    size = int(out.split()[2])
    stranger = new_caller(backend, user="olga")

    # when: any account lists it
    listed = await gateway.post(IMAGES, {"name": name}, token=stranger.token)

    # then
    page = listed["data"]["officialImages"]
    assert page["totalCount"] == 1
    image = page["nodes"][0]
    assert TIME.match(image.pop("updatedAt"))
    versions = image.pop("versions")
    node_id = image.pop("id")
    assert image == {"namespace": "library", "name": name, "description": "A base image",
                     "pullCount": 0, "starCount": 0, "isCollected": False}
    assert versions["totalCount"] == 2
    assert sorted((v["name"], v["size"]) for v in versions["nodes"]) == [
        ("v1", size), ("v2", size)]
    assert all(TIME.match(v["updatedAt"]) for v in versions["nodes"])
    by_id = await gateway.data(NODE, {"id": node_id})
    assert by_id == {"node": {"namespace": "library", "name": name}}


async def test_one_official_image_and_missing_ones(
    official_gateway: Gateway, own_backend: BackendServer, image_layout: Path
) -> None:
    gateway, backend = official_gateway, own_backend
    name = unique("db")
    backend.admin("official", "import", f"oci:{image_layout}:v1", f"{name}:v1")
    backend.admin("official", "import", f"oci:{image_layout}:v1", f"{name}:v2")

    one = await gateway.data(ONE, {"name": name})
    missing = await gateway.data(ONE, {"name": unique("none")})
    bad = await gateway.post(ONE, {"name": "Bad Name"})
    anonymous = await gateway.post(ONE, {"name": name}, token=False)

    assert one["officialImage"]["name"] == name
    assert one["officialImage"]["versions"]["totalCount"] == 2
    assert one["officialImage"]["versions"]["pageInfo"] == {"hasNextPage": True}
    assert len(one["officialImage"]["versions"]["nodes"]) == 1
    assert missing == {"officialImage": None}
    assert codes(bad) == ["BAD_USER_INPUT"]
    assert codes(anonymous) == ["UNAUTHENTICATED"]


async def test_accelerator_is_empty_without_a_mirror(gateway: Gateway) -> None:
    data = await gateway.data(ACCELERATOR)
    assert data == {"viewer": {"accelerator": {"dockerhub": "", "gcr": "", "pullCount": 0}}}


@pytest.fixture
async def mirror_gateway(tmp_path: Path) -> AsyncIterator[tuple[Gateway, BackendServer, int]]:
    """A backend with the accelerator listener on, and a gateway in front of it."""
    port = free_port()
    server = start_backend(tmp_path / "mirror", {"SWR_MIRROR_PORT": str(port)})
    try:
        async for gw in open_gateway(server.url, server.admin_token):
            yield gw, server, port
    finally:
        stop(server.process)


async def test_accelerator_addresses_per_account(
    mirror_gateway: tuple[Gateway, BackendServer, int]
) -> None:
    gateway, server, port = mirror_gateway
    other = new_caller(server, user="ann")

    mine = (await gateway.data(ACCELERATOR))["viewer"]["accelerator"]
    again = (await gateway.data(ACCELERATOR))["viewer"]["accelerator"]
    theirs = (await gateway.post(ACCELERATOR, token=other.token))["data"]["viewer"]

    address = re.compile(rf"^http://127\.0\.0\.1:{port}/[a-z0-9]{{8}}$")
    assert address.match(mine["dockerhub"]) and address.match(mine["gcr"])
    assert mine["dockerhub"] != mine["gcr"]
    assert again == mine  # stable for the account
    assert mine["pullCount"] == 0
    assert address.match(theirs["accelerator"]["dockerhub"])
    assert theirs["accelerator"]["dockerhub"] != mine["dockerhub"]
