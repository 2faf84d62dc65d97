"""HTTP edges of the backend: wrong methods, bad ranges, clients that go away mid-request."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from tests.conftest import BackendServer

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
