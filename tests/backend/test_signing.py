"""AK/SK signing (`SDK-HMAC-SHA256`): our verifier against the official SDK's signer, and the
official SWR SDK driving the backend with access keys."""

from __future__ import annotations

import hashlib
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from huaweicloudsdkswr.v2 import (
    CreateNamespaceRequest,
    CreateNamespaceRequestBody,
    CreateRepoDomainsRequest,
    CreateRepoDomainsRequestBody,
    CreateRepoRequest,
    CreateRepoRequestBody,
    CreateRepoTagRequest,
    CreateRepoTagRequestBody,
    DeleteRepoDomainsRequest,
    DeleteRepoTagRequest,
    ListNamespacesRequest,
    ListRepoDomainsRequest,
    ListRepositoryTagsRequest,
    ListSharedReposDetailsRequest,
    ShowAccessDomainRequest,
    ShowRepositoryRequest,
    SwrClient,
)

from swrlocal import signing
from tests.backend.support import unique
from tests.conftest import BackendServer, start_backend, stop

AK, SK = "SWRLTESTACCESSKEY000", "s3cr3t-Secret-key-for-unit-tests-0123456"
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
UNAUTHENTICATED = "SVCSTG.SWR.4010000"


def sdk_signed(
    method: str, path: str, query: list[tuple[str, Any]], body: bytes, headers: dict[str, str]
) -> SdkRequest:
    request = SdkRequest(
        method=method, schema="http", host="127.0.0.1:8080", resource_path=path,
        query_params=query, header_params={**headers, "X-Sdk-Date": NOW.strftime("%Y%m%dT%H%M%SZ")},
        body=body,
    )
    return Signer(BasicCredentials(AK, SK)).sign(request)


def as_received(request: SdkRequest) -> tuple[signing.SignedRequest, signing.SignatureHeader]:
    """What our server sees of the request the SDK signed (the path arrives percent-decoded)."""
    parts = urlsplit(request.uri)
    headers = {name.lower(): str(value) for name, value in request.header_params.items()}
    body = request.body or b""
    received = signing.SignedRequest(
        method=request.method, path=unquote(parts.path), query_string=parts.query,
        headers=headers, body_sha256=hashlib.sha256(body).hexdigest(),
    )
    header = signing.parse_authorization(headers["authorization"])
    assert header is not None
    return received, header


CASES = [
    pytest.param("GET", "/v2/manage/namespaces", [], b"", id="plain-get"),
    pytest.param("GET", "/v2/manage/namespaces/", [], b"", id="trailing-slash"),
    pytest.param("GET", "/v2/manage/repos", [("limit", "10"), ("offset", "0"),
                 ("filter", "namespace::a|name::b$c")], b"", id="query-sorted-encoded"),
    pytest.param("GET", "/v2/manage/namespaces/org/repos/team%24app/tags", [("tag", "v 1~é")],
                 b"", id="dollar-and-unicode"),
    pytest.param("POST", "/v2/manage/namespaces", [], b'{"namespace": "org"}', id="json-body"),
    pytest.param("DELETE", "/v2/manage/namespaces/o/access", [], b'["a", "b"]', id="delete-body"),
]


@pytest.mark.parametrize(("method", "path", "query", "body"), CASES)
def test_sdk_signature_verifies(method: str, path: str, query: list[Any], body: bytes) -> None:
    headers = {"Content-Type": "application/json", "X-Project-Id": "p1", "User-Agent": "sdk"}
    received, header = as_received(sdk_signed(method, path, query, body, headers))

    signing.verify(received, header, SK, NOW + timedelta(minutes=3))
    assert header.access_key == AK


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param({"path": "/v2/manage/namespaces/other"}, "does not match", id="path"),
        pytest.param({"method": "DELETE"}, "does not match", id="method"),
        pytest.param({"body_sha256": hashlib.sha256(b"{}").hexdigest()}, "does not match",
                     id="body"),
        pytest.param({"query_string": "limit=11"}, "does not match", id="query"),
    ],
)
def test_tampered_request_refused(change: dict[str, str], reason: str) -> None:
    signed = sdk_signed("GET", "/v2/manage/namespaces", [("limit", "10")], b"",
                        {"Content-Type": "application/json"})
    received, header = as_received(signed)
    values = {**received.__dict__, **change}

    with pytest.raises(signing.SigningError, match=reason):
        signing.verify(signing.SignedRequest(**values), header, SK, NOW)


def test_wrong_secret_and_clock_skew_refused() -> None:
    received, header = as_received(
        sdk_signed("GET", "/v2/manage/namespaces", [], b"", {"Content-Type": "application/json"})
    )
    with pytest.raises(signing.SigningError, match="does not match"):
        signing.verify(received, header, SK + "x", NOW)
    with pytest.raises(signing.SigningError, match="too far"):
        signing.verify(received, header, SK, NOW + timedelta(minutes=16))
    with pytest.raises(signing.SigningError, match="too far"):
        signing.verify(received, header, SK, NOW - timedelta(minutes=16))


def test_date_and_host_must_be_signed() -> None:
    received, header = as_received(
        sdk_signed("GET", "/v2/manage/namespaces", [], b"", {"Content-Type": "application/json"})
    )
    unsigned_host = tuple(name for name in header.signed_headers if name != "host")
    with pytest.raises(signing.SigningError, match="host"):
        signing.verify(received, signing.SignatureHeader(AK, unsigned_host, header.signature),
                       SK, NOW)


# ---------------------------------------------------------------------------- over HTTP


def sdk_client(url: str, ak: str, sk: str) -> SwrClient:
    # A project id must be given: without one the SDK asks IAM for it.
    credentials = BasicCredentials(ak, sk, "local-project")
    return SwrClient.new_builder().with_credentials(credentials).with_endpoints([url]).build()


@pytest.fixture(scope="module")
def keys(backend: BackendServer) -> tuple[str, str]:
    ak, sk = backend.admin("access-key", "create", "default", "admin").splitlines()
    return ak, sk


def test_sdk_drives_organizations_repositories_tags_shares(
    backend: BackendServer, keys: tuple[str, str]
) -> None:
    client = sdk_client(backend.url, *keys)
    org, other = unique("sg"), unique("acct")
    backend.admin("account", "create", other)

    client.create_namespace(CreateNamespaceRequest(body=CreateNamespaceRequestBody(namespace=org)))
    listed = client.list_namespaces(ListNamespacesRequest(namespace=org)).namespaces
    assert [(n.name, n.auth) for n in listed] == [(org, 7)]

    body = CreateRepoRequestBody(repository="team/app", is_public=False, category="linux")
    client.create_repo(CreateRepoRequest(namespace=org, body=body))
    shown = client.show_repository(ShowRepositoryRequest(namespace=org, repository="team$app"))
    assert (shown.name, shown.category, shown.is_public) == ("team/app", "linux", False)
    tags = client.list_repository_tags(
        ListRepositoryTagsRequest(namespace=org, repository="team$app")
    )
    assert tags.body is None  # the SDK's reading of an empty JSON array

    share = CreateRepoDomainsRequestBody(access_domain=other, permit="read", deadline="forever",
                                         description="for the build farm")
    client.create_repo_domains(CreateRepoDomainsRequest(namespace=org, repository="team$app",
                                                        body=share))
    exists = client.show_access_domain(
        ShowAccessDomainRequest(namespace=org, repository="team$app", access_domain=other)
    )
    assert (exists.exist, exists.deadline, exists.status) == (True, "forever", True)
    domains = client.list_repo_domains(ListRepoDomainsRequest(namespace=org, repository="team$app"))
    assert [d.access_domain for d in domains.body] == [other]
    mine = client.list_shared_repos_details(
        ListSharedReposDetailsRequest(center="self", namespace=org, limit="10", offset="0")
    )
    assert [r.name for r in mine.body] == ["team/app"]
    client.delete_repo_domains(
        DeleteRepoDomainsRequest(namespace=org, repository="team$app", access_domain=other)
    )
    gone = client.show_access_domain(
        ShowAccessDomainRequest(namespace=org, repository="team$app", access_domain=other)
    )
    assert gone.exist is False


def test_sdk_tag_calls(backend: BackendServer, keys: tuple[str, str]) -> None:
    client = sdk_client(backend.url, *keys)
    org = unique("sg")
    client.create_namespace(CreateNamespaceRequest(body=CreateNamespaceRequestBody(namespace=org)))
    client.create_repo(CreateRepoRequest(
        namespace=org, body=CreateRepoRequestBody(repository="app", is_public=False)
    ))
    # No tag exists: copying one and deleting one are refused as the contract says.
    with pytest.raises(ClientRequestException) as copy_error:
        client.create_repo_tag(CreateRepoTagRequest(
            namespace=org, repository="app",
            body=CreateRepoTagRequestBody(source_tag="v1", destination_tag="v2", override=False),
        ))
    with pytest.raises(ClientRequestException) as delete_error:
        client.delete_repo_tag(DeleteRepoTagRequest(namespace=org, repository="app", tag="v1"))

    assert copy_error.value.status_code == 404
    assert (delete_error.value.status_code, delete_error.value.error_code) == (
        404, "SVCSTG.SWR.4040048"
    )


def test_sdk_wrong_secret_refused(backend: BackendServer, keys: tuple[str, str]) -> None:
    client = sdk_client(backend.url, keys[0], keys[1][:-1] + "X")
    with pytest.raises(ClientRequestException) as error:
        client.list_namespaces(ListNamespacesRequest())
    assert (error.value.status_code, error.value.error_code) == (401, UNAUTHENTICATED)


def test_sdk_unknown_and_revoked_key_refused(backend: BackendServer) -> None:
    ak, sk = backend.admin("access-key", "create", "default", "admin").splitlines()
    client = sdk_client(backend.url, ak, sk)
    assert client.list_namespaces(ListNamespacesRequest()).namespaces is not None

    backend.admin("access-key", "revoke", ak)
    with pytest.raises(ClientRequestException) as revoked:
        client.list_namespaces(ListNamespacesRequest())
    with pytest.raises(ClientRequestException) as unknown:
        sdk_client(backend.url, "SWRLNOSUCHKEY0000000", sk).list_namespaces(
            ListNamespacesRequest()
        )
    assert (revoked.value.status_code, revoked.value.error_code) == (401, UNAUTHENTICATED)
    assert (unknown.value.status_code, unknown.value.error_code) == (401, UNAUTHENTICATED)


def signed_headers(url: str, ak: str, sk: str, date: datetime, method: str = "GET",
                   path: str = "/v2/manage/namespaces", body: bytes = b"") -> dict[str, str]:
    host = urlsplit(url).netloc
    headers = {"host": host, "x-sdk-date": date.strftime("%Y%m%dT%H%M%SZ"),
               "content-type": "application/json"}
    request = signing.SignedRequest(method, path, "", headers, hashlib.sha256(body).hexdigest())
    authorization = signing.authorization_value(ak, sk, request, list(headers))
    return {**headers, "Authorization": authorization}


def test_stale_or_future_date_refused(backend: BackendServer, keys: tuple[str, str]) -> None:
    now = datetime.now(UTC)
    fresh = httpx.get(backend.url + "/v2/manage/namespaces",
                      headers=signed_headers(backend.url, *keys, now))
    stale = httpx.get(backend.url + "/v2/manage/namespaces",
                      headers=signed_headers(backend.url, *keys, now - timedelta(minutes=20)))
    future = httpx.get(backend.url + "/v2/manage/namespaces",
                       headers=signed_headers(backend.url, *keys, now + timedelta(minutes=20)))

    assert fresh.status_code == 200
    assert (stale.status_code, stale.json()["error_code"]) == (401, UNAUTHENTICATED)
    assert (future.status_code, future.json()["error_code"]) == (401, UNAUTHENTICATED)


def test_signed_body_is_covered(backend: BackendServer, keys: tuple[str, str]) -> None:
    org = unique("sg")
    signed_for = f'{{"namespace": "{org}"}}'.encode()
    headers = signed_headers(backend.url, *keys, datetime.now(UTC), "POST",
                             body=signed_for)
    swapped = httpx.post(backend.url + "/v2/manage/namespaces", headers=headers,
                         content=f'{{"namespace": "{org}x"}}'.encode())
    honest = httpx.post(backend.url + "/v2/manage/namespaces", headers=headers,
                        content=signed_for)

    assert (swapped.status_code, swapped.json()["error_code"]) == (401, UNAUTHENTICATED)
    assert honest.status_code == 201


def test_secret_key_stored_encrypted(backend: BackendServer, keys: tuple[str, str]) -> None:
    key_file = backend.data_dir / signing.ENCRYPTION_KEY_FILE
    raw = (backend.data_dir / "metadata.sqlite3").read_bytes()
    with closing(sqlite3.connect(backend.data_dir / "metadata.sqlite3")) as conn:
        stored = conn.execute("SELECT secret_enc FROM access_keys WHERE access_key = ?",
                              (keys[0],)).fetchone()[0]

    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert keys[1].encode() not in raw
    assert keys[1].encode() not in bytes(stored)


@pytest.fixture
def clock_server(tmp_path: Path) -> Iterator[BackendServer]:
    server = start_backend(tmp_path / "data", {"SWR_TEST_CLOCK": "1"})
    yield server
    stop(server.process)


def test_sdk_refused_when_server_clock_moves_past_skew(clock_server: BackendServer) -> None:
    ak, sk = clock_server.admin("access-key", "create", "default", "admin").splitlines()
    client = sdk_client(clock_server.url, ak, sk)
    assert client.list_namespaces(ListNamespacesRequest()).namespaces == []

    moved = httpx.post(clock_server.url + "/__test__/clock", json={"advance_seconds": 16 * 60},
                       headers={"X-Auth-Token": clock_server.admin_token})
    assert moved.status_code == 200
    with pytest.raises(ClientRequestException) as error:
        client.list_namespaces(ListNamespacesRequest())
    assert (error.value.status_code, error.value.error_code) == (401, UNAUTHENTICATED)
