"""Manage API contract tests: versions, organizations and repositories (contract 1-3, 7).

Every test runs over real HTTP against the session's backend and uses organization names of its
own, since the server is shared.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.backend.support import assert_error, sql, unique
from tests.conftest import BackendServer

Caller = Callable[..., httpx.Client]


@pytest.fixture
def clients(backend: BackendServer) -> Iterator[Caller]:
    opened: list[httpx.Client] = []

    def make(token: str | None = None) -> httpx.Client:
        headers = {"X-Auth-Token": token} if token else {}
        client = httpx.Client(base_url=backend.url, headers=headers, timeout=30)
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.close()


@pytest.fixture
def admin(clients: Caller, backend: BackendServer) -> httpx.Client:
    return clients(backend.admin_token)


@pytest.fixture
def new_user(backend: BackendServer, clients: Caller) -> Callable[..., tuple[str, httpx.Client]]:
    """A user with a token: in the default account, or in a fresh account of its own."""

    def make(*, own_account: bool = False, is_admin: bool = False) -> tuple[str, httpx.Client]:
        account = "default"
        if own_account:
            account = unique("acct")
            backend.admin("account", "create", account)
        name = unique("user")
        backend.admin("user", "create", account, name, *(["--admin"] if is_admin else []))
        user_id = sql(
            backend,
            "SELECT users.id FROM users JOIN domains ON domains.id = users.domain_id"
            " WHERE domains.name = ? AND users.name = ?", (account, name),
        )[0][0]
        token = backend.admin("token", "create", account, name)
        return user_id, clients(token)

    return make


def grant(backend: BackendServer, namespace: str, user_id: str, auth: int) -> None:
    sql(
        backend,
        "INSERT INTO namespace_access (namespace_id, user_id, auth, created, updated)"
        " SELECT id, ?, ?, '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z'"
        " FROM namespaces WHERE name = ?",
        (user_id, auth, namespace),
    )


def create_org(client: httpx.Client, name: str | None = None) -> str:
    name = name or unique("org")
    response = client.post("/v2/manage/namespaces", json={"namespace": name})
    assert response.status_code == 201, response.text
    return name


def create_repo(client: httpx.Client, org: str, repo: str, **fields: Any) -> None:
    body = {"repository": repo, "is_public": False, **fields}
    response = client.post(f"/v2/manage/namespaces/{org}/repos", json=body)
    assert response.status_code == 200, response.text


# ---------------------------------------------------------------------------- versions


def test_versions_without_token(clients: Caller) -> None:
    response = clients().get("/")

    assert response.status_code == 200
    base = str(clients().base_url).rstrip("/")
    assert response.json() == {"versions": [{
        "id": "v2", "links": {"href": f"{base}/v2/", "rel": "self"}, "version": "2.26",
        "min_version": "2.0", "status": "CURRENT", "updated": "2017-12-09T00:00:00Z",
    }]}


def test_show_version_needs_token(clients: Caller, admin: httpx.Client) -> None:
    assert_error(clients().get("/v2"), 401, "SVCSTG.SWR.4010000")
    assert_error(clients("swr_not-a-token").get("/v2"), 401, "SVCSTG.SWR.4010000")

    response = admin.get("/v2")

    assert response.status_code == 200
    assert response.json()["version"]["id"] == "v2"
    assert response.json()["version"]["status"] == "CURRENT"


def test_unknown_version_is_404(admin: httpx.Client) -> None:
    assert_error(admin.get("/v3"), 404, "SVCSTG.SWR.4040083")


def test_bearer_token_accepted(clients: Caller, backend: BackendServer) -> None:
    client = clients()
    response = client.get("/v2", headers={"Authorization": f"Bearer {backend.admin_token}"})
    assert response.status_code == 200


# ---------------------------------------------------------------------------- organizations


def test_create_show_list_organization(admin: httpx.Client) -> None:
    name = unique("org")

    created = admin.post("/v2/manage/namespaces", json={"namespace": name})

    assert created.status_code == 201
    assert created.content == b""
    shown = admin.get(f"/v2/manage/namespaces/{name}").json()
    assert shown == {"id": shown["id"], "name": name, "creator_name": "admin", "auth": 7}
    assert isinstance(shown["id"], int)
    listed = admin.get("/v2/manage/namespaces", params={"namespace": name}).json()
    assert listed == {"namespaces": [shown]}


@pytest.mark.parametrize("shape", ["{u}", "{u}1", "{u}.b", "{u}__b", "{u}--b", "{u}-b_c.d", "64"])
def test_valid_organization_names(admin: httpx.Client, shape: str) -> None:
    stem = "z" + uuid.uuid4().hex[:8]
    name = stem.ljust(64, "x") if shape == "64" else shape.format(u=stem)

    response = admin.post("/v2/manage/namespaces", json={"namespace": name})

    assert response.status_code == 201, response.text
    assert admin.get(f"/v2/manage/namespaces/{name}").json()["name"] == name


@pytest.mark.parametrize("name", [
    "", "Upper", "1abc", "-abc", "abc-", "abc.", "a___b", "a._b", "a-.b", "a_-b", "a/b",
    "a b", "é", "a" * 65, 42, "abc!", "ABC",
])
def test_invalid_organization_names(admin: httpx.Client, name: object) -> None:
    response = admin.post("/v2/manage/namespaces", json={"namespace": name})
    assert_error(response, 400, "SVCSTG.SWR.4001028")


def test_create_organization_body_errors(admin: httpx.Client) -> None:
    assert_error(admin.post("/v2/manage/namespaces", json={}), 400, "SVCSTG.SWR.4001014")
    assert_error(admin.post("/v2/manage/namespaces", json=["x"]), 400, "SVCSTG.SWR.4000014")
    assert_error(admin.post("/v2/manage/namespaces", content=b"{"), 400, "SVCSTG.SWR.4000014")


def test_create_organization_twice_is_409(admin: httpx.Client) -> None:
    name = create_org(admin)
    response = admin.post("/v2/manage/namespaces", json={"namespace": name})
    assert_error(response, 409, "SVCSTG.SWR.4090060")


def test_organization_calls_need_token(clients: Caller, admin: httpx.Client) -> None:
    name = create_org(admin)
    anonymous = clients()
    assert_error(anonymous.get("/v2/manage/namespaces"), 401, "SVCSTG.SWR.4010000")
    assert_error(anonymous.get(f"/v2/manage/namespaces/{name}"), 401, "SVCSTG.SWR.4010000")
    response = anonymous.post("/v2/manage/namespaces", json={"namespace": unique("org")})
    assert_error(response, 401, "SVCSTG.SWR.4010000")
    assert_error(anonymous.delete(f"/v2/manage/namespaces/{name}"), 401, "SVCSTG.SWR.4010000")


def test_delete_organization(admin: httpx.Client) -> None:
    name = create_org(admin)

    response = admin.delete(f"/v2/manage/namespaces/{name}")

    assert response.status_code == 204
    assert response.content == b""
    assert_error(admin.get(f"/v2/manage/namespaces/{name}"), 404, "SVCSTG.SWR.4040058")
    assert_error(admin.delete(f"/v2/manage/namespaces/{name}"), 404, "SVCSTG.SWR.4040058")


def test_delete_organization_with_repositories_is_406(admin: httpx.Client) -> None:
    name = create_org(admin)
    create_repo(admin, name, "app")

    assert_error(admin.delete(f"/v2/manage/namespaces/{name}"), 406, "SVCSTG.SWR.4060074")
    assert admin.delete(f"/v2/manage/namespaces/{name}/repos/app").status_code == 204
    assert admin.delete(f"/v2/manage/namespaces/{name}").status_code == 204


def test_list_organizations_filter_forms(admin: httpx.Client) -> None:
    first, second = create_org(admin), create_org(admin)

    by_param = admin.get("/v2/manage/namespaces", params={"namespace": first}).json()
    by_filter = admin.get("/v2/manage/namespaces", params={"filter": f"namespace::{second}"})
    both = admin.get(
        "/v2/manage/namespaces", params={"namespace": first, "filter": f"namespace::{second}"}
    )
    everything = admin.get("/v2/manage/namespaces").json()["namespaces"]

    assert [ns["name"] for ns in by_param["namespaces"]] == [first]
    assert [ns["name"] for ns in by_filter.json()["namespaces"]] == [second]
    assert [ns["name"] for ns in both.json()["namespaces"]] == [second]  # filter wins
    assert {first, second} <= {ns["name"] for ns in everything}
    assert [ns["name"] for ns in everything] == sorted(ns["name"] for ns in everything)
    missing = admin.get("/v2/manage/namespaces", params={"namespace": unique("org")})
    assert missing.json() == {"namespaces": []}


def test_list_organizations_bad_name(admin: httpx.Client) -> None:
    response = admin.get("/v2/manage/namespaces", params={"namespace": "Bad"})
    assert_error(response, 400, "SVCSTG.SWR.4001028")


@pytest.mark.parametrize("value", ["", "|", "mode::bogus", "color::red", "namespace", "::x"])
def test_list_organizations_bad_filter(admin: httpx.Client, value: str) -> None:
    response = admin.get("/v2/manage/namespaces", params={"filter": value})
    assert_error(response, 400, "SVCSTG.SWR.4001035")


def test_organization_invisible_without_permission(
    admin: httpx.Client, new_user: Callable[..., tuple[str, httpx.Client]]
) -> None:
    name = create_org(admin)
    _user_id, outsider = new_user()

    listed = outsider.get("/v2/manage/namespaces").json()["namespaces"]
    shown = outsider.get(f"/v2/manage/namespaces/{name}")
    missing = outsider.get(f"/v2/manage/namespaces/{unique('org')}")

    assert name not in {ns["name"] for ns in listed}
    assert_error(shown, 404, "SVCSTG.SWR.4040058")
    assert_error(missing, 404, "SVCSTG.SWR.4040058")
    assert_error(outsider.delete(f"/v2/manage/namespaces/{name}"), 404, "SVCSTG.SWR.4040058")


def test_creator_gets_manage_and_account_admin_sees_it(
    admin: httpx.Client, new_user: Callable[..., tuple[str, httpx.Client]]
) -> None:
    _user_id, member = new_user()
    name = create_org(member)

    mine = member.get(f"/v2/manage/namespaces/{name}").json()
    seen_by_admin = admin.get(f"/v2/manage/namespaces/{name}").json()

    assert mine["auth"] == 7
    assert mine["creator_name"] != "admin"
    assert seen_by_admin["auth"] == 7


def test_read_permission_shows_but_cannot_delete(
    admin: httpx.Client, backend: BackendServer, new_user: Callable[..., tuple[str, httpx.Client]]
) -> None:
    name = create_org(admin)
    user_id, reader = new_user()
    grant(backend, name, user_id, 1)

    assert reader.get(f"/v2/manage/namespaces/{name}").json()["auth"] == 1
    listed = reader.get("/v2/manage/namespaces", params={"filter": f"namespace::{name}"})
    assert [ns["auth"] for ns in listed.json()["namespaces"]] == [1]
    assert_error(reader.delete(f"/v2/manage/namespaces/{name}"), 403, "SVCSTG.SWR.4030170")


def test_visible_mode_adds_organizations_of_shared_repositories(
    admin: httpx.Client, backend: BackendServer, new_user: Callable[..., tuple[str, httpx.Client]]
) -> None:
    name = create_org(admin)
    create_repo(admin, name, "shared")
    _user_id, stranger = new_user(own_account=True)
    account = stranger.get("/v2/manage/namespaces")  # prove the token works
    assert account.status_code == 200
    domain = sql(
        backend,
        "SELECT domains.name FROM users JOIN domains ON domains.id = users.domain_id"
        " WHERE users.id = ?", (_user_id,),
    )[0][0]
    sql(
        backend,
        "INSERT INTO shares (repository_id, access_domain, deadline, creator_id, creator_name,"
        " created, updated) SELECT r.id, ?, 'forever', 'x', 'admin', 'now', 'now'"
        " FROM repositories r JOIN namespaces n ON n.id = r.namespace_id WHERE n.name = ?",
        (domain, name),
    )

    default = stranger.get("/v2/manage/namespaces").json()["namespaces"]
    visible = stranger.get("/v2/manage/namespaces", params={"filter": "mode::visible"}).json()

    assert name not in {ns["name"] for ns in default}
    assert [(ns["name"], ns["auth"]) for ns in visible["namespaces"]] == [(name, 0)]


# ---------------------------------------------------------------------------- repositories


def test_create_and_show_repository(admin: httpx.Client, backend: BackendServer) -> None:
    org = create_org(admin)
    body = {"repository": "busybox", "category": "linux", "description": "tiny", "is_public": True}

    created = admin.post(f"/v2/manage/namespaces/{org}/repos", json=body)

    assert created.status_code == 200
    assert created.content == b""
    repo = admin.get(f"/v2/manage/namespaces/{org}/repos/busybox").json()
    ns = admin.get(f"/v2/manage/namespaces/{org}").json()
    domain_id = sql(backend, "SELECT id FROM domains WHERE name = 'default'")[0][0]
    assert repo == {
        "id": repo["id"], "ns_id": ns["id"], "name": "busybox", "category": "linux",
        "description": "tiny", "creator_id": repo["creator_id"], "creator_name": "admin",
        "size": 0, "is_public": True, "num_images": 0, "num_download": 0, "url": "",
        "path": f"{backend.host}/{org}/busybox", "internal_path": f"{backend.host}/{org}/busybox",
        "created": repo["created"], "updated": repo["created"], "domain_id": domain_id,
        "priority": 0,
    }
    assert len(repo["creator_id"]) == 32
    assert repo["created"].endswith("Z")


def test_create_repository_defaults(admin: httpx.Client) -> None:
    org = create_org(admin)
    create_repo(admin, org, "plain")
    repo = admin.get(f"/v2/manage/namespaces/{org}/repos/plain").json()
    assert (repo["category"], repo["description"], repo["is_public"]) == ("other", "", False)


def test_repository_name_with_slash_uses_dollar(
    admin: httpx.Client, backend: BackendServer
) -> None:
    org = create_org(admin)
    create_repo(admin, org, "team/app")

    by_dollar = admin.get(f"/v2/manage/namespaces/{org}/repos/team$app")
    by_escape = admin.get(f"/v2/manage/namespaces/{org}/repos/team%24app")
    listed = admin.get("/v2/manage/repos", params={"namespace": org, "name": "team$app"})

    assert by_dollar.status_code == 200
    assert by_dollar.json()["name"] == "team/app"
    assert by_dollar.json()["path"] == f"{backend.host}/{org}/team/app"
    assert by_escape.json()["id"] == by_dollar.json()["id"]
    assert [r["name"] for r in listed.json()] == ["team/app"]


def test_dollar_in_create_body_means_slash(admin: httpx.Client) -> None:
    org = create_org(admin)
    create_repo(admin, org, "a$b")
    assert admin.get(f"/v2/manage/namespaces/{org}/repos/a$b").json()["name"] == "a/b"


@pytest.mark.parametrize(("body", "code"), [
    ({"is_public": True}, "SVCSTG.SWR.4001014"),
    ({"repository": "app"}, "SVCSTG.SWR.4001014"),
    ({"repository": "app", "is_public": "true"}, "SVCSTG.SWR.4001009"),
    ({"repository": "app", "is_public": 1}, "SVCSTG.SWR.4001009"),
    ({"repository": "app", "is_public": None}, "SVCSTG.SWR.4001009"),
    ({"repository": "App", "is_public": True}, "SVCSTG.SWR.4001029"),
    ({"repository": "a//b", "is_public": True}, "SVCSTG.SWR.4001029"),
    ({"repository": "a/", "is_public": True}, "SVCSTG.SWR.4001029"),
    ({"repository": "a___b", "is_public": True}, "SVCSTG.SWR.4001029"),
    ({"repository": "a" * 129, "is_public": True}, "SVCSTG.SWR.4001029"),
    ({"repository": 7, "is_public": True}, "SVCSTG.SWR.4001029"),
    ({"repository": "app", "is_public": True, "category": "arms"}, "SVCSTG.SWR.4000014"),
    ({"repository": "app", "is_public": True, "description": 5}, "SVCSTG.SWR.4000014"),
])
def test_create_repository_validation(
    admin: httpx.Client, body: dict[str, Any], code: str
) -> None:
    org = create_org(admin)
    response = admin.post(f"/v2/manage/namespaces/{org}/repos", json=body)
    assert_error(response, 400, code)
    assert admin.get("/v2/manage/repos", params={"namespace": org}).json() == []


@pytest.mark.parametrize("category", [
    "app_server", "linux", "framework_app", "database", "lang", "other", "windows", "arm",
])
def test_every_category_accepted(admin: httpx.Client, category: str) -> None:
    org = create_org(admin)
    create_repo(admin, org, "app", category=category)
    assert admin.get(f"/v2/manage/namespaces/{org}/repos/app").json()["category"] == category


def test_create_repository_conflicts_and_missing_org(admin: httpx.Client) -> None:
    org = create_org(admin)
    create_repo(admin, org, "app")
    body = {"repository": "app", "is_public": True}

    again = admin.post(f"/v2/manage/namespaces/{org}/repos", json=body)
    missing = admin.post(f"/v2/manage/namespaces/{unique('org')}/repos", json=body)

    assert_error(again, 409, "SVCSTG.SWR.4090006")
    assert_error(missing, 404, "SVCSTG.SWR.4040058")


def test_description_too_long_is_413(admin: httpx.Client) -> None:
    org = create_org(admin)
    body = {"repository": "app", "is_public": True, "description": "x" * 10_001}
    response = admin.post(f"/v2/manage/namespaces/{org}/repos", json=body)
    assert_error(response, 413, "SVCSTG.SWR.4131012")


def test_update_repository_keeps_absent_fields(admin: httpx.Client) -> None:
    org = create_org(admin)
    create_repo(admin, org, "app", category="linux", description="old", is_public=True)
    before = admin.get(f"/v2/manage/namespaces/{org}/repos/app").json()

    response = admin.patch(f"/v2/manage/namespaces/{org}/repos/app", json={"description": "new"})

    assert response.status_code == 201
    assert response.content == b""
    after = admin.get(f"/v2/manage/namespaces/{org}/repos/app").json()
    assert (after["description"], after["category"], after["is_public"]) == ("new", "linux", True)
    assert after["updated"] > before["updated"]
    assert after["created"] == before["created"]


def test_update_repository_all_fields(admin: httpx.Client) -> None:
    org = create_org(admin)
    create_repo(admin, org, "team/app")
    body = {"is_public": True, "category": "database", "description": "db"}

    assert admin.patch(f"/v2/manage/namespaces/{org}/repos/team$app", json=body).status_code == 201

    after = admin.get(f"/v2/manage/namespaces/{org}/repos/team$app").json()
    assert (after["is_public"], after["category"], after["description"]) == (True, "database", "db")


@pytest.mark.parametrize(("body", "code"), [
    ({}, "SVCSTG.SWR.4001014"),
    ({"name": "other"}, "SVCSTG.SWR.4000014"),
    ({"is_public": "false"}, "SVCSTG.SWR.4001009"),
    ({"category": "nope"}, "SVCSTG.SWR.4000014"),
])
def test_update_repository_validation(
    admin: httpx.Client, body: dict[str, Any], code: str
) -> None:
    org = create_org(admin)
    create_repo(admin, org, "app")
    before = admin.get(f"/v2/manage/namespaces/{org}/repos/app").json()

    assert_error(admin.patch(f"/v2/manage/namespaces/{org}/repos/app", json=body), 400, code)
    assert admin.get(f"/v2/manage/namespaces/{org}/repos/app").json() == before


def test_repository_not_found(admin: httpx.Client) -> None:
    org = create_org(admin)
    path = f"/v2/manage/namespaces/{org}/repos/nothing"
    assert_error(admin.get(path), 404, "SVCSTG.SWR.4040010")
    assert_error(admin.patch(path, json={"is_public": True}), 404, "SVCSTG.SWR.4040010")
    assert_error(admin.delete(path), 404, "SVCSTG.SWR.4040010")
    assert_error(admin.get(path + "/tags"), 404, "SVCSTG.SWR.4040010")
    assert_error(admin.get(f"/v2/manage/namespaces/{org}/repos/Bad"), 400, "SVCSTG.SWR.4001029")


def test_delete_repository(admin: httpx.Client) -> None:
    org = create_org(admin)
    create_repo(admin, org, "app")

    response = admin.delete(f"/v2/manage/namespaces/{org}/repos/app")

    assert response.status_code == 204
    assert_error(admin.get(f"/v2/manage/namespaces/{org}/repos/app"), 404, "SVCSTG.SWR.4040010")


def test_repository_rights(
    admin: httpx.Client, backend: BackendServer, new_user: Callable[..., tuple[str, httpx.Client]]
) -> None:
    org = create_org(admin)
    create_repo(admin, org, "private")
    create_repo(admin, org, "public", is_public=True)
    reader_id, reader = new_user()
    grant(backend, org, reader_id, 1)
    _outsider_id, outsider = new_user()
    path = f"/v2/manage/namespaces/{org}/repos"

    # a reader reads but neither edits nor deletes
    assert reader.get(f"{path}/private").status_code == 200
    forbidden = reader.patch(f"{path}/private", json={"is_public": True})
    assert_error(forbidden, 403, "SVCSTG.SWR.4030170")
    assert_error(reader.delete(f"{path}/private"), 403, "SVCSTG.SWR.4030170")
    new_repo = reader.post(path, json={"repository": "mine", "is_public": True})
    assert_error(new_repo, 403, "SVCSTG.SWR.4030170")

    # an outsider sees a public repository, and nothing at all of a private one
    assert outsider.get(f"{path}/public").json()["name"] == "public"
    assert_error(outsider.get(f"{path}/private"), 404, "SVCSTG.SWR.4040058")
    assert_error(outsider.get(f"{path}/absent"), 404, "SVCSTG.SWR.4040058")
    assert_error(outsider.delete(f"{path}/public"), 403, "SVCSTG.SWR.4030170")
    assert outsider.get("/v2/manage/repos", params={"namespace": org}).json() == []


def test_editor_can_create_update_delete(
    admin: httpx.Client, backend: BackendServer, new_user: Callable[..., tuple[str, httpx.Client]]
) -> None:
    org = create_org(admin)
    editor_id, editor = new_user()
    grant(backend, org, editor_id, 3)
    path = f"/v2/manage/namespaces/{org}/repos"

    assert editor.post(path, json={"repository": "app", "is_public": False}).status_code == 200
    assert editor.patch(f"{path}/app", json={"description": "d"}).status_code == 201
    assert editor.delete(f"{path}/app").status_code == 204
    assert_error(editor.delete(f"/v2/manage/namespaces/{org}"), 403, "SVCSTG.SWR.4030170")


def test_package_repositories_are_not_images(admin: httpx.Client, backend: BackendServer) -> None:
    org = create_org(admin)
    create_repo(admin, org, "image")
    sql(
        backend,
        "INSERT INTO repositories (namespace_id, name, kind, creator_id, creator_name, created,"
        " updated) SELECT id, 'pkg', 'package', 'x', 'admin', 'now', 'now'"
        " FROM namespaces WHERE name = ?", (org,),
    )

    listed = admin.get("/v2/manage/repos", params={"namespace": org}).json()

    assert [r["name"] for r in listed] == ["image"]
    assert_error(admin.get(f"/v2/manage/namespaces/{org}/repos/pkg"), 404, "SVCSTG.SWR.4040010")


# ---------------------------------------------------------------------------- repository list


@pytest.fixture
def five_repos(admin: httpx.Client) -> str:
    org = create_org(admin)
    for name, public, category in [
        ("alpha", True, "linux"), ("beta", False, "database"), ("gamma/one", True, "linux"),
        ("delta", False, "other"), ("epsilon", False, "lang"),
    ]:
        create_repo(admin, org, name, is_public=public, category=category)
    return org


def names_of(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()]


def test_list_repositories_item_fields(
    admin: httpx.Client, backend: BackendServer, five_repos: str
) -> None:
    params = {"namespace": five_repos, "name": "alpha"}
    [item] = admin.get("/v2/manage/repos", params=params).json()

    assert item == {
        "name": "alpha", "category": "linux", "description": "", "size": 0, "is_public": True,
        "num_images": 0, "num_download": 0, "created_at": item["created_at"],
        "updated_at": item["created_at"], "logo": "", "url": "",
        "path": f"{backend.host}/{five_repos}/alpha",
        "internal_path": f"{backend.host}/{five_repos}/alpha", "domain_name": "default",
        "namespace": five_repos, "tags": [], "status": False, "total_range": 1,
    }


def test_list_repositories_default_order_is_newest_first(
    admin: httpx.Client, five_repos: str
) -> None:
    response = admin.get("/v2/manage/repos", params={"namespace": five_repos})
    assert names_of(response) == ["epsilon", "delta", "gamma/one", "beta", "alpha"]
    assert "content-range" not in response.headers


@pytest.mark.parametrize(("column", "direction", "expected"), [
    ("name", "asc", ["alpha", "beta", "delta", "epsilon", "gamma/one"]),
    ("name", "desc", ["gamma/one", "epsilon", "delta", "beta", "alpha"]),
    ("updated_time", "asc", ["alpha", "beta", "gamma/one", "delta", "epsilon"]),
    ("updated_at", "desc", ["epsilon", "delta", "gamma/one", "beta", "alpha"]),
    ("is_public", "desc", ["gamma/one", "alpha", "epsilon", "delta", "beta"]),
    ("namespace", "asc", ["alpha", "beta", "gamma/one", "delta", "epsilon"]),
    ("tag_count", "asc", ["alpha", "beta", "gamma/one", "delta", "epsilon"]),
])
def test_list_repositories_order(
    admin: httpx.Client, five_repos: str, column: str, direction: str, expected: list[str]
) -> None:
    params = {"namespace": five_repos, "order_column": column, "order_type": direction}
    assert names_of(admin.get("/v2/manage/repos", params=params)) == expected
    flt = f"namespace::{five_repos}|order_column::{column}|order_type::{direction}"
    assert names_of(admin.get("/v2/manage/repos", params={"filter": flt})) == expected


@pytest.mark.parametrize(("offset", "limit", "expected", "content_range"), [
    ("0", "2", ["alpha", "beta"], "0-2/5"),
    ("2", "2", ["gamma/one", "delta"], "2-2/5"),
    ("4", "2", ["epsilon"], "4-1/5"),
    ("10", "2", [], "10-0/5"),
    ("1", "3", ["beta", "gamma/one", "delta"], "1-3/5"),
])
def test_list_repositories_paging(
    admin: httpx.Client, five_repos: str, offset: str, limit: str, expected: list[str],
    content_range: str,
) -> None:
    params = {"namespace": five_repos, "offset": offset, "limit": limit,
              "order_column": "updated_time", "order_type": "asc"}
    response = admin.get("/v2/manage/repos", params=params)

    assert names_of(response) == expected
    assert response.headers["content-range"] == content_range
    assert {item["total_range"] for item in response.json()} <= {5}

    flt = "|".join(f"{k}::{v}" for k, v in params.items())
    by_filter = admin.get("/v2/manage/repos", params={"filter": flt})
    assert names_of(by_filter) == expected
    assert by_filter.headers["content-range"] == content_range


def test_list_repositories_limit_alone_has_no_content_range(
    admin: httpx.Client, five_repos: str
) -> None:
    response = admin.get("/v2/manage/repos", params={"namespace": five_repos, "limit": "2"})
    assert len(response.json()) == 2
    assert "content-range" not in response.headers
    assert response.json()[0]["total_range"] == 5


def test_list_repositories_criteria(admin: httpx.Client, five_repos: str) -> None:
    def listed(**params: str) -> list[str]:
        params.setdefault("order_column", "name")
        params.setdefault("order_type", "asc")
        return names_of(admin.get("/v2/manage/repos", params={"namespace": five_repos, **params}))

    assert listed(category="linux") == ["alpha", "gamma/one"]
    assert listed(is_public="true") == ["alpha", "gamma/one"]
    assert listed(is_public="false") == ["beta", "delta", "epsilon"]
    assert listed(name="ta") == ["beta", "delta"]  # substring match
    assert listed(name="gamma$") == ["gamma/one"]
    assert listed(name="a$o") == ["gamma/one"]


def test_list_repositories_namespace_exact_vs_fuzzy(admin: httpx.Client) -> None:
    stem = unique("fz")
    create_org(admin, stem)
    create_org(admin, stem + "-x")
    create_repo(admin, stem, "one")
    create_repo(admin, stem + "-x", "two")

    exact = admin.get("/v2/manage/repos", params={"namespace": stem, "order_column": "name",
                                                   "order_type": "asc"})
    fuzzy = admin.get("/v2/manage/repos", params={
        "filter": f"namespace::{stem}|order_column::name|order_type::asc"})

    assert names_of(exact) == ["one"]
    assert names_of(fuzzy) == ["one", "two"]
    assert [item["namespace"] for item in fuzzy.json()] == [stem, stem + "-x"]


def test_list_repositories_filter_wins(admin: httpx.Client, five_repos: str) -> None:
    params = {"namespace": five_repos, "name": "alpha", "category": "lang",
              "filter": f"namespace::{five_repos}|name::beta"}
    assert names_of(admin.get("/v2/manage/repos", params=params)) == ["beta"]


def test_list_repositories_accepts_center_self(admin: httpx.Client, five_repos: str) -> None:
    flt = f"center::self|namespace::{five_repos}|name::alpha"
    assert names_of(admin.get("/v2/manage/repos", params={"filter": flt})) == ["alpha"]


def test_list_repositories_encoded_filter(admin: httpx.Client, five_repos: str) -> None:
    url = f"/v2/manage/repos?filter=namespace::{five_repos}%7Cname::alpha"
    assert names_of(admin.get(url)) == ["alpha"]


@pytest.mark.parametrize(("params", "code"), [
    ({"limit": "0"}, "SVCSTG.SWR.4000056"),
    ({"limit": "1001"}, "SVCSTG.SWR.4000056"),
    ({"limit": "ten"}, "SVCSTG.SWR.4000056"),
    ({"limit": "-1"}, "SVCSTG.SWR.4000056"),
    ({"offset": "-1", "limit": "10"}, "SVCSTG.SWR.4001025"),
    ({"offset": "x"}, "SVCSTG.SWR.4001025"),
    ({"order_column": "size", "order_type": "asc"}, "SVCSTG.SWR.4001025"),
    ({"order_column": "name", "order_type": "up"}, "SVCSTG.SWR.4001025"),
    ({"order_column": "name"}, "SVCSTG.SWR.4001025"),
    ({"order_type": "asc"}, "SVCSTG.SWR.4001025"),
    ({"category": "arms"}, "SVCSTG.SWR.4001025"),
    ({"is_public": "yes"}, "SVCSTG.SWR.4001009"),
    ({"namespace": "Bad"}, "SVCSTG.SWR.4001028"),
    ({"name": "UP"}, "SVCSTG.SWR.4001029"),
    ({"filter": ""}, "SVCSTG.SWR.4001035"),
    ({"filter": "tag::v1"}, "SVCSTG.SWR.4001035"),
    ({"filter": "name"}, "SVCSTG.SWR.4001035"),
    ({"filter": "name::a|name::b"}, "SVCSTG.SWR.4001035"),
    ({"filter": "center::thirdparty"}, "SVCSTG.SWR.4001035"),
    ({"filter": "limit::5000"}, "SVCSTG.SWR.4000056"),
])
def test_list_repositories_bad_criteria(
    admin: httpx.Client, params: dict[str, str], code: str
) -> None:
    assert_error(admin.get("/v2/manage/repos", params=params), 400, code)


def test_list_repositories_needs_token(clients: Caller) -> None:
    assert_error(clients().get("/v2/manage/repos"), 401, "SVCSTG.SWR.4010000")


def test_default_limit_is_100(admin: httpx.Client) -> None:
    org = create_org(admin)
    for index in range(101):
        create_repo(admin, org, f"r{index:03d}")

    default = admin.get("/v2/manage/repos", params={"namespace": org})
    bigger = admin.get("/v2/manage/repos", params={"namespace": org, "limit": "1000"})

    assert len(default.json()) == 100
    assert default.json()[0]["total_range"] == 101
    assert len(bigger.json()) == 101
