"""The registry's protocol edges over raw HTTP: auth and tokens, error bodies, chunked and
resumable uploads, range reads, manifest validation, paging, memory use."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import jwt
import pytest

from tests.backend.support import (  # noqa: F401  (fixtures are registered by import)
    basic,
    bearer,
    create_org,
    create_user,
    grant,
    oci_manifest,
    org_fixture,
    push_blob,
    push_image,
    sql,
)
from tests.conftest import start_backend, stop

if TYPE_CHECKING:
    from tests.conftest import BackendServer


def assert_oci_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["docker-distribution-api-version"] == "registry/2.0"
    assert response.json()["errors"][0]["code"] == code


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# --- authentication -------------------------------------------------------------------------


def test_ping_challenges_anonymous_callers(backend: BackendServer) -> None:
    response = httpx.get(f"{backend.url}/v2/")
    assert_oci_error(response, 401, "UNAUTHORIZED")
    assert response.headers["www-authenticate"] == (
        f'Bearer realm="http://{backend.host}/auth/token",service="swr-local"'
    )
    ok = httpx.get(f"{backend.url}/v2/", auth=basic(backend.admin_token))
    assert ok.status_code == 200 and ok.json() == {}
    assert ok.headers["docker-distribution-api-version"] == "registry/2.0"


def test_repository_challenge_names_the_scope(backend: BackendServer, org: str) -> None:
    response = httpx.get(f"{backend.url}/v2/{org}/app/manifests/latest")
    assert_oci_error(response, 401, "UNAUTHORIZED")
    assert response.headers["www-authenticate"] == (
        f'Bearer realm="http://{backend.host}/auth/token",service="swr-local",'
        f'scope="repository:{org}/app:pull,push"'
    )


def test_token_endpoint_needs_credentials(backend: BackendServer) -> None:
    anonymous = httpx.get(f"{backend.url}/auth/token", params={"service": "swr-local"})
    assert_oci_error(anonymous, 401, "UNAUTHORIZED")
    wrong = httpx.get(f"{backend.url}/auth/token", auth=basic("swr_not-a-token"))
    assert_oci_error(wrong, 401, "UNAUTHORIZED")


def test_token_grants_only_allowed_actions(backend: BackendServer, org: str) -> None:
    reader = create_user(backend, "reader")
    grant(backend, org, reader, 1)
    other = create_org(backend)
    response = httpx.get(
        f"{backend.url}/auth/token",
        params=[("service", "swr-local"), ("scope", f"repository:{org}/app:pull,push"),
                ("scope", f"repository:{other}/app:pull registry:catalog:*")],
        auth=basic(reader.token, user="any-name"),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token"] == body["access_token"]
    assert body["expires_in"] == 300
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["sub"] == reader.user_id
    assert claims["access"] == [
        {"type": "repository", "name": f"{org}/app", "actions": ["pull"]},
        {"type": "registry", "name": "catalog", "actions": ["*"]},
    ]
    assert claims["exp"] - claims["iat"] == 300


def test_token_scope_is_enforced(backend: BackendServer, org: str) -> None:
    push_image(backend, f"{org}/app", "v1")
    pull_only = bearer(backend, backend.admin_token, f"repository:{org}/app:pull")

    assert httpx.get(f"{backend.url}/v2/{org}/app/manifests/v1", headers=pull_only).is_success
    response = httpx.delete(f"{backend.url}/v2/{org}/app/manifests/v1", headers=pull_only)
    assert_oci_error(response, 403, "DENIED")
    assert 'scope="repository:' + f'{org}/app:delete",error="insufficient_scope"' in (
        response.headers["www-authenticate"]
    )
    elsewhere = httpx.get(f"{backend.url}/v2/{org}/other/tags/list", headers=pull_only)
    assert_oci_error(elsewhere, 403, "DENIED")


def test_missing_and_forbidden_repositories_look_alike(
    backend: BackendServer, org: str
) -> None:
    push_image(backend, f"{org}/secret", "v1")
    stranger = create_user(backend, "stranger")
    answers = []
    for repository in ("secret", "missing"):
        url = f"{backend.url}/v2/{org}/{repository}/manifests/v1"
        by_token = bearer(backend, stranger.token, f"repository:{org}/{repository}:pull")
        for response in (httpx.get(url, headers=by_token),
                         httpx.get(url, auth=basic(stranger.token))):
            answers.append((response.status_code, response.json()))
    assert answers[0][0] == 403
    assert all(answer == answers[0] for answer in answers)
    unknown_org = httpx.get(f"{backend.url}/v2/nosuchorg/x/manifests/v1",
                            auth=basic(stranger.token))
    assert (unknown_org.status_code, unknown_org.json()) == answers[0]


def test_expired_and_forged_tokens_are_refused(backend: BackendServer, org: str) -> None:
    httpx.get(f"{backend.url}/v2/", auth=basic(backend.admin_token))  # key made on first use
    key = (backend.data_dir / "registry-signing-key").read_text().strip().encode()
    assert (backend.data_dir / "registry-signing-key").stat().st_mode & 0o777 == 0o600
    user_id = sql(backend, "SELECT id FROM users WHERE name = 'admin'")[0][0]
    token_id = sql(backend, "SELECT id FROM api_tokens WHERE user_id = ?", (user_id,))[0][0]
    now = int(time.time())
    claims = {"iss": "swr-local", "aud": "swr-local", "sub": user_id, "tid": token_id,
              "iat": now - 600,
              "nbf": now - 600, "exp": now - 300,
              "access": [{"type": "repository", "name": f"{org}/app", "actions": ["pull"]}]}
    url = f"{backend.url}/v2/{org}/app/tags/list"

    expired = jwt.encode(claims, key, algorithm="HS256")
    response = httpx.get(url, headers={"Authorization": f"Bearer {expired}"})
    assert_oci_error(response, 401, "UNAUTHORIZED")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]

    forged = jwt.encode({**claims, "exp": now + 300}, b"another key " * 4, algorithm="HS256")
    response = httpx.get(url, headers={"Authorization": f"Bearer {forged}"})
    assert_oci_error(response, 401, "UNAUTHORIZED")

    valid = jwt.encode({**claims, "exp": now + 300}, key, algorithm="HS256")
    response = httpx.get(url, headers={"Authorization": f"Bearer {valid}"})
    assert_oci_error(response, 404, "NAME_UNKNOWN")


def test_removed_user_is_refused_at_once(backend: BackendServer, org: str) -> None:
    pusher = create_user(backend, "pusher")
    grant(backend, org, pusher, 3)
    headers = bearer(backend, pusher.token, f"repository:{org}/app:pull,push")
    push_blob(backend, f"{org}/app", b"x", auth=basic(pusher.token))
    assert httpx.get(f"{backend.url}/v2/{org}/app/tags/list", headers=headers).is_success

    sql(backend, "DELETE FROM users WHERE id = ?", (pusher.user_id,))
    response = httpx.get(f"{backend.url}/v2/{org}/app/tags/list", headers=headers)
    assert_oci_error(response, 401, "UNAUTHORIZED")


def test_push_needs_edit_and_an_existing_organization(backend: BackendServer, org: str) -> None:
    reader = create_user(backend, "reader")
    grant(backend, org, reader, 1)
    url = f"{backend.url}/v2/{org}/new/blobs/uploads/"
    assert_oci_error(httpx.post(url, auth=basic(reader.token)), 403, "DENIED")
    assert_oci_error(httpx.post(f"{backend.url}/v2/nosuchorg2/new/blobs/uploads/",
                                auth=basic(backend.admin_token)), 403, "DENIED")
    assert sql(backend, "SELECT count(*) FROM repositories WHERE name = 'new'") == [(0,)]


def test_invalid_names_are_rejected(backend: BackendServer) -> None:
    response = httpx.get(f"{backend.url}/v2/Bad_Org/x/tags/list", auth=basic(backend.admin_token))
    assert_oci_error(response, 400, "NAME_INVALID")
    response = httpx.get(f"{backend.url}/v2/org/a--/tags/list", auth=basic(backend.admin_token))
    assert_oci_error(response, 400, "NAME_INVALID")


# --- blobs and uploads ----------------------------------------------------------------------


def test_monolithic_upload_with_wrong_digest_lands_nothing(
    backend: BackendServer, org: str
) -> None:
    data = b"some bytes"
    claimed = sha256(b"other bytes")
    response = httpx.post(f"{backend.url}/v2/{org}/app/blobs/uploads/",
                          params={"digest": claimed}, content=data,
                          auth=basic(backend.admin_token))
    assert_oci_error(response, 400, "DIGEST_INVALID")
    head = httpx.head(f"{backend.url}/v2/{org}/app/blobs/{claimed}",
                      auth=basic(backend.admin_token))
    assert head.status_code == 404
    for digest in (claimed, sha256(data)):
        assert not (backend.data_dir / "blobs/sha256" / digest[7:9] / digest[7:]).exists()


def test_chunked_upload_with_out_of_order_chunk(backend: BackendServer, org: str) -> None:
    auth = basic(backend.admin_token)
    data = bytes(range(256)) * 100
    start = httpx.post(f"{backend.url}/v2/{org}/app/blobs/uploads/", auth=auth)
    assert start.status_code == 202
    assert start.headers["range"] == "0-0"
    location = backend.url + start.headers["location"]
    assert start.headers["docker-upload-uuid"] in location

    first = httpx.patch(location, content=data[:1000], auth=auth,
                        headers={"Content-Range": "0-999"})
    assert first.status_code == 202 and first.headers["range"] == "0-999"
    skipped = httpx.patch(location, content=data[2000:3000], auth=auth,
                          headers={"Content-Range": "2000-2999"})
    assert_oci_error(skipped, 416, "BLOB_UPLOAD_INVALID")
    assert skipped.headers["range"] == "0-999"

    status = httpx.get(location, auth=auth)
    assert status.status_code == 204 and status.headers["range"] == "0-999"
    rest = httpx.patch(location, content=data[1000:20000], auth=auth)  # no Content-Range
    assert rest.headers["range"] == "0-19999"
    digest = sha256(data)
    done = httpx.put(location, params={"digest": digest}, content=data[20000:], auth=auth,
                     headers={"Content-Range": f"20000-{len(data) - 1}"})
    assert done.status_code == 201
    assert done.headers["docker-content-digest"] == digest
    assert done.headers["location"] == f"/v2/{org}/app/blobs/{digest}"
    blob = httpx.get(f"{backend.url}/v2/{org}/app/blobs/{digest}", auth=auth)
    assert blob.content == data

    assert_oci_error(httpx.get(location, auth=auth), 404, "BLOB_UPLOAD_UNKNOWN")


def test_unknown_and_cancelled_uploads(backend: BackendServer, org: str) -> None:
    auth = basic(backend.admin_token)
    push_blob(backend, f"{org}/app", b"make the repository exist")
    unknown = f"{backend.url}/v2/{org}/app/blobs/uploads/no-such-upload"
    assert_oci_error(httpx.patch(unknown, content=b"x", auth=auth), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_oci_error(httpx.put(unknown, params={"digest": sha256(b"x")}, auth=auth),
                     404, "BLOB_UPLOAD_UNKNOWN")

    start = httpx.post(f"{backend.url}/v2/{org}/app/blobs/uploads/", auth=auth)
    location = backend.url + start.headers["location"]
    assert httpx.delete(location, auth=auth).status_code == 204
    assert_oci_error(httpx.get(location, auth=auth), 404, "BLOB_UPLOAD_UNKNOWN")


def test_put_with_wrong_digest_discards_the_upload(backend: BackendServer, org: str) -> None:
    auth = basic(backend.admin_token)
    start = httpx.post(f"{backend.url}/v2/{org}/app/blobs/uploads/", auth=auth)
    location = backend.url + start.headers["location"]
    httpx.patch(location, content=b"abc", auth=auth)
    wrong = httpx.put(location, params={"digest": sha256(b"abd")}, auth=auth)
    assert_oci_error(wrong, 400, "DIGEST_INVALID")
    assert_oci_error(httpx.get(location, auth=auth), 404, "BLOB_UPLOAD_UNKNOWN")
    assert not (backend.data_dir / "uploads" / start.headers["docker-upload-uuid"]).exists()


def test_sha512_digests_are_accepted(backend: BackendServer, org: str) -> None:
    data = b"checked with sha512"
    digest = "sha512:" + hashlib.sha512(data).hexdigest()
    response = httpx.post(f"{backend.url}/v2/{org}/app/blobs/uploads/",
                          params={"digest": digest}, content=data,
                          auth=basic(backend.admin_token))
    assert response.status_code == 201
    blob = httpx.get(f"{backend.url}/v2/{org}/app/blobs/{digest}", auth=basic(backend.admin_token))
    assert blob.content == data


def test_range_reads(backend: BackendServer, org: str) -> None:
    data = bytes(range(256)) * 4
    digest = push_blob(backend, f"{org}/app", data)
    url = f"{backend.url}/v2/{org}/app/blobs/{digest}"
    auth = basic(backend.admin_token)

    head = httpx.head(url, auth=auth)
    assert head.status_code == 200
    assert head.headers["content-length"] == "1024"
    assert head.headers["docker-content-digest"] == digest
    part = httpx.get(url, headers={"Range": "bytes=10-19"}, auth=auth)
    assert part.status_code == 206
    assert part.headers["content-range"] == "bytes 10-19/1024"
    assert part.content == data[10:20]
    tail = httpx.get(url, headers={"Range": "bytes=-24"}, auth=auth)
    assert tail.content == data[-24:]
    assert tail.headers["content-range"] == "bytes 1000-1023/1024"
    open_end = httpx.get(url, headers={"Range": "bytes=1000-"}, auth=auth)
    assert open_end.content == data[1000:]
    beyond = httpx.get(url, headers={"Range": "bytes=5000-6000"}, auth=auth)
    assert_oci_error(beyond, 416, "RANGE_INVALID")
    assert beyond.headers["content-range"] == "bytes */1024"


def test_blob_delete_and_mount_fallback(backend: BackendServer, org: str) -> None:
    auth = basic(backend.admin_token)
    digest = push_blob(backend, f"{org}/src", b"shared layer")
    url = f"{backend.url}/v2/{org}/dst/blobs/uploads/"

    mounted = httpx.post(url, params={"mount": digest, "from": f"{org}/src"}, auth=auth)
    assert mounted.status_code == 201
    assert mounted.headers["location"] == f"/v2/{org}/dst/blobs/{digest}"

    # A user who cannot read the source gets an ordinary upload instead.
    pusher = create_user(backend, "pusher")
    target = create_org(backend)
    grant(backend, target, pusher, 3)
    fallback = httpx.post(f"{backend.url}/v2/{target}/dst/blobs/uploads/",
                          params={"mount": digest, "from": f"{org}/src"},
                          auth=basic(pusher.token))
    assert fallback.status_code == 202
    assert "docker-upload-uuid" in fallback.headers

    assert httpx.delete(f"{backend.url}/v2/{org}/dst/blobs/{digest}", auth=auth).status_code == 202
    assert httpx.head(f"{backend.url}/v2/{org}/dst/blobs/{digest}", auth=auth).status_code == 404
    assert httpx.head(f"{backend.url}/v2/{org}/src/blobs/{digest}", auth=auth).status_code == 200


# --- manifests ------------------------------------------------------------------------------


def test_manifest_naming_a_missing_blob_is_refused(backend: BackendServer, org: str) -> None:
    config = push_blob(backend, f"{org}/app", b"{}")
    missing = sha256(b"never uploaded")
    body = oci_manifest((config, 2), [(missing, 14)])
    response = httpx.put(
        f"{backend.url}/v2/{org}/app/manifests/v1", content=body,
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
        auth=basic(backend.admin_token),
    )
    assert_oci_error(response, 400, "MANIFEST_BLOB_UNKNOWN")
    assert response.json()["errors"][0]["detail"] == {"digest": missing}


def test_index_naming_a_missing_manifest_is_refused(backend: BackendServer, org: str) -> None:
    body = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": sha256(b"nothing"), "size": 7}],
    }).encode()
    response = httpx.put(
        f"{backend.url}/v2/{org}/app/manifests/multi", content=body,
        headers={"Content-Type": "application/vnd.oci.image.index.v1+json"},
        auth=basic(backend.admin_token),
    )
    assert_oci_error(response, 400, "MANIFEST_BLOB_UNKNOWN")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(b"not json", "application/vnd.oci.image.manifest.v1+json", id="json"),
        pytest.param(b'{"schemaVersion": 2}', "text/plain", id="media-type"),
        pytest.param(b'{"schemaVersion": 1, "name": "x"}',
                     "application/vnd.docker.distribution.manifest.v1+json", id="schema1"),
        pytest.param(b'{"schemaVersion": 2, "mediaType":'
                     b' "application/vnd.oci.image.manifest.v1+json", "layers": []}',
                     "application/vnd.oci.image.manifest.v1+json", id="no-config"),
    ],
)
def test_invalid_manifests(backend: BackendServer, org: str, body: bytes,
                           content_type: str) -> None:
    response = httpx.put(f"{backend.url}/v2/{org}/app/manifests/v1", content=body,
                         headers={"Content-Type": content_type},
                         auth=basic(backend.admin_token))
    assert_oci_error(response, 400, "MANIFEST_INVALID")


def test_manifest_put_by_wrong_digest(backend: BackendServer, org: str) -> None:
    digest, body, _size = push_image(backend, f"{org}/app", "v1")
    response = httpx.put(
        f"{backend.url}/v2/{org}/app/manifests/{sha256(b'other')}", content=body,
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
        auth=basic(backend.admin_token),
    )
    assert_oci_error(response, 400, "DIGEST_INVALID")
    by_digest = httpx.put(
        f"{backend.url}/v2/{org}/app/manifests/{digest}", content=body,
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
        auth=basic(backend.admin_token),
    )
    assert by_digest.status_code == 201


def test_manifest_get_head_accept_and_pull_count(backend: BackendServer, org: str) -> None:
    digest, body, image_size = push_image(backend, f"{org}/app", "v1")
    url = f"{backend.url}/v2/{org}/app/manifests/v1"
    auth = basic(backend.admin_token)
    count = "SELECT num_download FROM repositories WHERE name = 'app' AND namespace_id ="
    count += " (SELECT id FROM namespaces WHERE name = ?)"

    head = httpx.head(url, auth=auth)
    assert head.headers["docker-content-digest"] == digest
    assert head.headers["content-length"] == str(len(body))
    assert sql(backend, count, (org,)) == [(0,)]
    oci = "application/vnd.oci.image.manifest.v1+json"
    got = httpx.get(url, auth=auth, headers={"Accept": oci})
    assert got.content == body
    assert got.headers["content-type"] == "application/vnd.oci.image.manifest.v1+json"
    assert httpx.get(f"{backend.url}/v2/{org}/app/manifests/{digest}", auth=auth).content == body
    assert sql(backend, count, (org,)) == [(2,)]

    refused = httpx.get(url, auth=auth, headers={
        "Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    assert_oci_error(refused, 404, "MANIFEST_UNKNOWN")
    rows = sql(backend, "SELECT image_size, is_index, schema_version FROM manifests"
               " WHERE digest = ? AND repository_id = (SELECT r.id FROM repositories r"
               " JOIN namespaces n ON n.id = r.namespace_id WHERE n.name = ?)", (digest, org))
    assert rows == [(image_size, 0, 2)]


def test_delete_by_tag_removes_only_the_tag(backend: BackendServer, org: str) -> None:
    auth = basic(backend.admin_token)
    digest, body, _size = push_image(backend, f"{org}/app", "one")
    httpx.put(f"{backend.url}/v2/{org}/app/manifests/two", content=body, auth=auth,
              headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    created = sql(backend, "SELECT created FROM tags WHERE name = 'one' AND manifest_digest = ?",
                  (digest,))

    assert httpx.delete(f"{backend.url}/v2/{org}/app/manifests/one", auth=auth).status_code == 202
    tags = httpx.get(f"{backend.url}/v2/{org}/app/tags/list", auth=auth).json()
    assert tags == {"name": f"{org}/app", "tags": ["two"]}
    assert httpx.get(f"{backend.url}/v2/{org}/app/manifests/{digest}", auth=auth).is_success
    assert_oci_error(httpx.delete(f"{backend.url}/v2/{org}/app/manifests/one", auth=auth),
                     404, "MANIFEST_UNKNOWN")
    assert created


def test_retag_keeps_created_and_moves_updated(backend: BackendServer, org: str) -> None:
    first, _body, _size = push_image(backend, f"{org}/app", "latest", seed="a")
    before = sql(backend, "SELECT created, updated FROM tags WHERE manifest_digest = ?", (first,))
    second, _body, _size = push_image(backend, f"{org}/app", "latest", seed="b")
    after = sql(backend, "SELECT created, updated FROM tags WHERE manifest_digest = ?", (second,))
    assert after[0][0] == before[0][0]
    assert after[0][1] > before[0][1]


# --- listings -------------------------------------------------------------------------------


def test_tags_list_paging(backend: BackendServer, org: str) -> None:
    auth = basic(backend.admin_token)
    _digest, body, _size = push_image(backend, f"{org}/app", "a")
    for tag in ("b", "c", "d", "e"):
        httpx.put(f"{backend.url}/v2/{org}/app/manifests/{tag}", content=body, auth=auth,
                  headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    url = f"{backend.url}/v2/{org}/app/tags/list"

    first = httpx.get(url, params={"n": 2}, auth=auth)
    assert first.json()["tags"] == ["a", "b"]
    assert first.headers["link"] == f'</v2/{org}/app/tags/list?n=2&last=b>; rel="next"'
    second = httpx.get(backend.url + first.headers["link"][1:].split(">")[0], auth=auth)
    assert second.json()["tags"] == ["c", "d"]
    last = httpx.get(url, params={"n": 2, "last": "d"}, auth=auth)
    assert last.json()["tags"] == ["e"]
    assert "link" not in last.headers
    assert httpx.get(url, auth=auth).json()["tags"] == ["a", "b", "c", "d", "e"]
    assert_oci_error(httpx.get(url, params={"n": "x"}, auth=auth), 400,
                     "PAGINATION_NUMBER_INVALID")
    assert_oci_error(httpx.get(f"{backend.url}/v2/{org}/none/tags/list", auth=auth),
                     404, "NAME_UNKNOWN")


# --- durability and memory ------------------------------------------------------------------


@pytest.fixture
def own_backend(tmp_path: Path) -> Iterator[BackendServer]:
    """A backend of this test's own, for restarts and memory readings."""
    server = start_backend(tmp_path / "data")
    yield server
    stop(server.process)


def test_upload_survives_a_restart(own_backend: BackendServer) -> None:
    org = create_org(own_backend)
    data = b"0123456789" * 1000
    start = httpx.post(f"{own_backend.url}/v2/{org}/app/blobs/uploads/",
                       auth=basic(own_backend.admin_token))
    path = start.headers["location"]
    httpx.patch(own_backend.url + path, content=data[:4000], auth=basic(own_backend.admin_token))
    stop(own_backend.process)

    again = start_backend(own_backend.data_dir)
    try:
        auth = basic(again.admin_token)
        status = httpx.get(again.url + path, auth=auth)
        assert status.status_code == 204 and status.headers["range"] == "0-3999"
        httpx.patch(again.url + path, content=data[4000:], auth=auth,
                    headers={"Content-Range": f"4000-{len(data) - 1}"})
        done = httpx.put(again.url + path, params={"digest": sha256(data)}, auth=auth)
        assert done.status_code == 201
        blob = httpx.get(f"{again.url}/v2/{org}/app/blobs/{sha256(data)}", auth=auth)
        assert blob.content == data
    finally:
        stop(again.process)


def memory_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} missing from /proc/{pid}/status")


def test_large_chunked_upload_runs_in_constant_memory(own_backend: BackendServer) -> None:
    org = create_org(own_backend)
    auth = basic(own_backend.admin_token)
    block = hashlib.sha512(b"block").digest() * 1024  # 64 KiB
    chunk_blocks, chunks = 80, 10  # 10 chunks of 5 MiB: 50 MiB in all
    push_blob(own_backend, f"{org}/app", b"warm up")  # code paths loaded before the baseline
    baseline = memory_kib(own_backend.process.pid, "VmRSS")

    def body() -> Iterator[bytes]:
        for _ in range(chunk_blocks):
            yield block

    start = httpx.post(f"{own_backend.url}/v2/{org}/app/blobs/uploads/", auth=auth)
    location = own_backend.url + start.headers["location"]
    hasher = hashlib.sha256()
    size = len(block) * chunk_blocks
    for index in range(chunks):
        first = index * size
        response = httpx.patch(location, content=body(), auth=auth,
                               headers={"Content-Range": f"{first}-{first + size - 1}"})
        assert response.status_code == 202, response.text
        for _ in range(chunk_blocks):
            hasher.update(block)
    digest = "sha256:" + hasher.hexdigest()
    done = httpx.put(location, params={"digest": digest}, auth=auth)
    assert done.status_code == 201

    peak = memory_kib(own_backend.process.pid, "VmHWM")
    total = size * chunks
    landed = own_backend.data_dir / "blobs/sha256" / digest[7:9] / digest[7:]
    assert landed.stat().st_size == total
    # The whole blob is 50 MiB; the server may grow by a few buffers, not by the blob.
    assert (peak - baseline) * 1024 < total // 5, (peak, baseline)


def test_catalog_lists_only_readable_repositories(own_backend: BackendServer) -> None:
    backend = own_backend  # alone, so public repositories of other tests stay out of sight
    mine, hidden = create_org(backend), create_org(backend)
    for name in ("b", "a", "c/d"):
        push_blob(backend, f"{mine}/{name}", b"x")
    push_blob(backend, f"{hidden}/secret", b"x")
    reader = create_user(backend, "reader")
    grant(backend, mine, reader, 1)
    headers = bearer(backend, reader.token, "registry:catalog:*")

    first = httpx.get(f"{backend.url}/v2/_catalog", params={"n": 2}, headers=headers)
    assert first.json() == {"repositories": [f"{mine}/a", f"{mine}/b"]}
    assert first.headers["link"] == f'</v2/_catalog?n=2&last={mine}%2Fb>; rel="next"'
    rest = httpx.get(f"{backend.url}/v2/_catalog", params={"n": 2, "last": f"{mine}/b"},
                     headers=headers)
    assert rest.json() == {"repositories": [f"{mine}/c/d"]}
    assert "link" not in rest.headers

    no_scope = bearer(backend, reader.token, f"repository:{mine}/a:pull")
    assert_oci_error(httpx.get(f"{backend.url}/v2/_catalog", headers=no_scope), 403, "DENIED")
