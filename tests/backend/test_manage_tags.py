"""Manage API contract tests for image tags (contract 4), and one push through the registry.

Tags are normally written by the registry. Most tests seed `manifests`/`tags` rows straight into
the server's SQLite file, which keeps them independent of a registry client; one test pushes a
real image with skopeo and checks what the Manage API reports for it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.backend.support import (  # noqa: F401  (fixtures are registered by import)
    MULTI_PLATFORM,
    admin_fixture,
    assert_error,
    make_image,
    unique,
)
from tests.conftest import BackendServer

CONFIG = "sha256:" + "c" * 64


class Seeder:
    """Writes registry rows for one repository, as a push would."""

    def __init__(self, backend: BackendServer, repository_id: int) -> None:
        self.path = backend.data_dir / "metadata.sqlite3"
        self.repository_id = repository_id

    def manifest(self, *, size: int, index: bool = False, text: str = "") -> tuple[str, str]:
        media = ("application/vnd.oci.image.index.v1+json" if index
                 else "application/vnd.oci.image.manifest.v1+json")
        content = json.dumps({"schemaVersion": 2, "mediaType": media, "note": text or unique("tg")})
        digest = "sha256:" + hashlib.sha256(content.encode()).hexdigest()
        self._run(
            "INSERT INTO manifests (repository_id, digest, media_type, content, schema_version,"
            " is_index, config_digest, image_size, created) VALUES (?, ?, ?, ?, 2, ?, ?, ?, ?)",
            (self.repository_id, digest, media, content.encode(), int(index),
             None if index else CONFIG, size, "2024-01-01T00:00:00.000000Z"),
        )
        return digest, content

    def tag(self, name: str, digest: str, updated: str) -> None:
        self._run(
            "INSERT INTO tags (repository_id, name, manifest_digest, created, updated)"
            " VALUES (?, ?, ?, ?, ?)",
            (self.repository_id, name, digest, "2024-01-01T00:00:00.000000Z", updated),
        )

    def count_tags(self) -> int:
        return int(self._run("SELECT COUNT(*) FROM tags WHERE repository_id = ?",
                             (self.repository_id,))[0][0])

    def _run(self, statement: str, params: tuple[Any, ...]) -> list[Any]:
        with closing(sqlite3.connect(self.path, timeout=10)) as conn:
            conn.execute("PRAGMA foreign_keys=ON")
            rows = conn.execute(statement, params).fetchall()
            conn.commit()
            return rows


@pytest.fixture
def repo(admin: httpx.Client, backend: BackendServer) -> tuple[str, Seeder]:
    """An organization with repository `team/app` holding tags v1, v2, latest (an index)."""
    org = unique("tg")
    assert admin.post("/v2/manage/namespaces", json={"namespace": org}).status_code == 201
    body = {"repository": "team/app", "is_public": False}
    assert admin.post(f"/v2/manage/namespaces/{org}/repos", json=body).status_code == 200
    repository_id = admin.get(f"/v2/manage/namespaces/{org}/repos/team$app").json()["id"]
    seeder = Seeder(backend, repository_id)
    first, _ = seeder.manifest(size=1000, text="one")
    second, _ = seeder.manifest(size=2000, text="two")
    index, _ = seeder.manifest(size=3000, index=True, text="many")
    seeder.tag("v1", first, "2024-01-01T00:00:01.000000Z")
    seeder.tag("v2", second, "2024-01-02T00:00:01.000000Z")
    seeder.tag("latest", index, "2024-01-03T00:00:01.000000Z")
    return org, seeder


def tags_url(org: str) -> str:
    return f"/v2/manage/namespaces/{org}/repos/team$app/tags"


def tag_names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["Tag"] for item in response.json()]


def test_list_tags_fields(
    admin: httpx.Client, backend: BackendServer, repo: tuple[str, Seeder]
) -> None:
    org, seeder = repo
    response = admin.get(tags_url(org), params={"tag": "v1"})

    [item] = response.json()
    domain_id = admin.get(f"/v2/manage/namespaces/{org}/repos/team$app").json()["domain_id"]
    content = seeder._run("SELECT content, digest FROM manifests m JOIN tags t"
                          " ON t.manifest_digest = m.digest WHERE t.name = 'v1'"
                          " AND t.repository_id = ?", (seeder.repository_id,))[0]
    assert item == {
        "id": item["id"], "repo_id": seeder.repository_id, "Tag": "v1", "image_id": "c" * 64,
        "manifest": content[0].decode(), "digest": content[1], "schema": 2,
        "path": f"{backend.host}/{org}/team/app:v1",
        "internal_path": f"{backend.host}/{org}/team/app:v1", "size": 1000,
        "is_trusted": False, "created": "2024-01-01T00:00:00.000000Z",
        "updated": "2024-01-01T00:00:01.000000Z", "deleted": None, "domain_id": domain_id,
        "scanned": False, "tag_type": 0,
    }
    assert "content-range" not in response.headers


def test_index_tag_type_and_image_id(admin: httpx.Client, repo: tuple[str, Seeder]) -> None:
    org, _ = repo
    [item] = admin.get(tags_url(org), params={"tag": "latest"}).json()
    assert (item["tag_type"], item["image_id"], item["size"]) == (1, "", 3000)


def test_list_tags_default_order_newest_first(
    admin: httpx.Client, repo: tuple[str, Seeder]
) -> None:
    org, _ = repo
    assert tag_names(admin.get(tags_url(org))) == ["latest", "v2", "v1"]


@pytest.mark.parametrize(("column", "direction", "expected"), [
    ("tag", "asc", ["latest", "v1", "v2"]),
    ("tag", "desc", ["v2", "v1", "latest"]),
    ("updated_at", "asc", ["v1", "v2", "latest"]),
])
def test_list_tags_order(
    admin: httpx.Client, repo: tuple[str, Seeder], column: str, direction: str,
    expected: list[str],
) -> None:
    org, _ = repo
    params = {"order_column": column, "order_type": direction}
    assert tag_names(admin.get(tags_url(org), params=params)) == expected
    flt = f"order_column::{column}|order_type::{direction}"
    assert tag_names(admin.get(tags_url(org), params={"filter": flt})) == expected


def test_list_tags_paging_and_content_range(
    admin: httpx.Client, repo: tuple[str, Seeder]
) -> None:
    org, _ = repo
    base = {"order_column": "tag", "order_type": "asc"}

    first = admin.get(tags_url(org), params={**base, "offset": "0", "limit": "2"})
    second = admin.get(tags_url(org), params={"filter": "offset::2|limit::2|order_column::tag"
                                                        "|order_type::asc"})
    limit_only = admin.get(tags_url(org), params={**base, "limit": "1"})

    assert tag_names(first) == ["latest", "v1"]
    assert first.headers["content-range"] == "0-2/3"
    assert tag_names(second) == ["v2"]
    assert second.headers["content-range"] == "2-1/3"
    assert tag_names(limit_only) == ["latest"]
    assert "content-range" not in limit_only.headers


def test_list_tags_substring_filter(admin: httpx.Client, repo: tuple[str, Seeder]) -> None:
    org, _ = repo
    params = {"tag": "v", "offset": "0", "limit": "10", "order_column": "tag",
              "order_type": "asc"}
    response = admin.get(tags_url(org), params=params)
    assert tag_names(response) == ["v1", "v2"]
    assert response.headers["content-range"] == "0-2/2"
    assert tag_names(admin.get(tags_url(org), params={"filter": "tag::lat"})) == ["latest"]


@pytest.mark.parametrize(("params", "code"), [
    ({"limit": "0"}, "SVCSTG.SWR.4000056"),
    ({"limit": "1001"}, "SVCSTG.SWR.4000056"),
    ({"offset": "-2"}, "SVCSTG.SWR.4001025"),
    ({"order_column": "name", "order_type": "asc"}, "SVCSTG.SWR.4001025"),
    ({"order_column": "tag", "order_type": "sideways"}, "SVCSTG.SWR.4001025"),
    ({"tag": "v 1"}, "SVCSTG.SWR.4001025"),
    ({"filter": "namespace::x"}, "SVCSTG.SWR.4001035"),
    ({"filter": ""}, "SVCSTG.SWR.4001035"),
])
def test_list_tags_bad_criteria(
    admin: httpx.Client, repo: tuple[str, Seeder], params: dict[str, str], code: str
) -> None:
    org, _ = repo
    assert_error(admin.get(tags_url(org), params=params), 400, code)


def test_repository_counts_its_tags(admin: httpx.Client, repo: tuple[str, Seeder]) -> None:
    org, _ = repo
    shown = admin.get(f"/v2/manage/namespaces/{org}/repos/team$app").json()
    [listed] = admin.get("/v2/manage/repos", params={"namespace": org}).json()

    assert (shown["num_images"], shown["size"]) == (3, 6000)
    assert (listed["num_images"], listed["size"]) == (3, 6000)
    assert listed["tags"] == ["latest", "v1", "v2"]


def test_show_tag(admin: httpx.Client, backend: BackendServer, repo: tuple[str, Seeder]) -> None:
    org, _ = repo
    [listed] = admin.get(tags_url(org), params={"tag": "v2"}).json()

    response = admin.get(tags_url(org) + "/v2")

    assert response.status_code == 200
    shown = response.json()
    expected = {k: v for k, v in listed.items() if k not in ("Tag", "deleted", "scanned")}
    assert shown == {**expected, "tag": "v2"}
    assert_error(admin.get(tags_url(org) + "/v9"), 404, "SVCSTG.SWR.4040048")


def test_delete_tag(admin: httpx.Client, repo: tuple[str, Seeder]) -> None:
    org, seeder = repo
    before = admin.get(f"/v2/manage/namespaces/{org}/repos/team$app").json()

    response = admin.delete(tags_url(org) + "/v1")

    assert response.status_code == 204
    after = admin.get(f"/v2/manage/namespaces/{org}/repos/team$app").json()
    assert (after["num_images"], after["size"]) == (2, 5000)
    assert after["updated"] > before["updated"]
    assert tag_names(admin.get(tags_url(org))) == ["latest", "v2"]
    assert_error(admin.delete(tags_url(org) + "/v1"), 404, "SVCSTG.SWR.4040048")
    assert seeder.count_tags() == 2


def test_copy_tag(admin: httpx.Client, repo: tuple[str, Seeder]) -> None:
    org, _ = repo
    url = tags_url(org)

    created = admin.post(url, json={"source_tag": "v1", "destination_tag": "stable"})
    conflict = admin.post(url, json={"source_tag": "v2", "destination_tag": "stable"})
    overridden = admin.post(
        url, json={"source_tag": "v2", "destination_tag": "stable", "override": True}
    )
    missing = admin.post(url, json={"source_tag": "nope", "destination_tag": "x"})
    invalid = admin.post(url, json={"source_tag": "v1", "destination_tag": "-bad"})
    no_source = admin.post(url, json={"destination_tag": "x"})
    bad_override = admin.post(
        url, json={"source_tag": "v1", "destination_tag": "x", "override": "yes"}
    )

    assert created.status_code == 201
    assert_error(conflict, 409, "SVCSTG.SWR.4090006")
    assert overridden.status_code == 201
    assert admin.get(f"{url}/stable").json()["digest"] == admin.get(f"{url}/v2").json()["digest"]
    assert_error(missing, 404, "SVCSTG.SWR.4040048")
    assert_error(invalid, 400, "SVCSTG.SWR.4001025")
    assert_error(no_source, 400, "SVCSTG.SWR.4001014")
    assert_error(bad_override, 400, "SVCSTG.SWR.4000014")


def test_delete_repository_removes_its_tags(admin: httpx.Client, repo: tuple[str, Seeder]) -> None:
    org, seeder = repo
    assert admin.delete(f"/v2/manage/namespaces/{org}/repos/team$app").status_code == 204
    assert seeder.count_tags() == 0


def test_tags_need_rights(backend: BackendServer, repo: tuple[str, Seeder]) -> None:
    org, _ = repo
    name = unique("user")
    backend.admin("user", "create", "default", name)
    token = backend.admin("token", "create", "default", name)
    with httpx.Client(base_url=backend.url, headers={"X-Auth-Token": token}) as outsider:
        assert_error(outsider.get(tags_url(org)), 404, "SVCSTG.SWR.4040058")
        assert_error(outsider.delete(tags_url(org) + "/v1"), 404, "SVCSTG.SWR.4040058")
    with httpx.Client(base_url=backend.url) as anonymous:
        assert_error(anonymous.get(tags_url(org)), 401, "SVCSTG.SWR.4010000")


# ---------------------------------------------------------------------------- real push


@pytest.fixture(scope="module")
def image_layout(tmp_path_factory: pytest.TempPathFactory, make_test_image: Path) -> Path:
    layout = tmp_path_factory.mktemp("manage-images") / "layout"
    make_image(make_test_image, layout, "v1")
    make_image(make_test_image, layout, "multi", *MULTI_PLATFORM)
    return layout


def push(skopeo: str, backend: BackendServer, layout: Path, tag: str, target: str) -> None:
    result = subprocess.run(
        [skopeo, "copy", "--all", "--dest-tls-verify=false",
         "--dest-creds", f"admin:{backend.admin_token}",
         f"oci:{layout}:{tag}", f"docker://{backend.host}/{target}"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr


def test_pushed_image_tags(
    admin: httpx.Client, backend: BackendServer, skopeo: str, image_layout: Path
) -> None:
    org = unique("tg")
    assert admin.post("/v2/manage/namespaces", json={"namespace": org}).status_code == 201

    push(skopeo, backend, image_layout, "v1", f"{org}/pushed/app:v1")
    push(skopeo, backend, image_layout, "multi", f"{org}/pushed/app:multi")

    tags = {t["Tag"]: t for t in admin.get(tags_url(org).replace("team$app", "pushed$app")).json()}
    index = json.loads((image_layout / "index.json").read_text())
    by_tag = {m["annotations"]["org.opencontainers.image.ref.name"]: m for m in index["manifests"]}
    single, multi = tags["v1"], tags["multi"]
    manifest = json.loads(single["manifest"])
    assert single["digest"] == by_tag["v1"]["digest"]
    assert single["image_id"] == manifest["config"]["digest"].removeprefix("sha256:")
    expected_size = manifest["config"]["size"] + sum(layer["size"] for layer in manifest["layers"])
    assert (single["size"], single["tag_type"], single["schema"]) == (expected_size, 0, 2)
    assert single["path"] == f"{backend.host}/{org}/pushed/app:v1"
    assert multi["digest"] == by_tag["multi"]["digest"]
    assert (multi["tag_type"], multi["image_id"]) == (1, "")
    repo = admin.get(f"/v2/manage/namespaces/{org}/repos/pushed$app").json()
    assert (repo["num_images"], repo["size"]) == (2, single["size"] + multi["size"])
