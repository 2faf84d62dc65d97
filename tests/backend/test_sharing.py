"""Shares with other accounts (contract 5, 6): records, listings, bad input, expiry."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.backend.support import make_image, unique
from tests.conftest import BackendServer, start_backend, stop


@dataclass
class Setup:
    backend: BackendServer
    owner: httpx.Client
    friend: httpx.Client
    friend_account: str
    friend_token: str
    org: str

    def shares(self, repo: str = "app") -> str:
        return f"/v2/manage/namespaces/{self.org}/repositories/{repo}/access-domains"

    def share_state(self, repo: str = "app") -> Any:
        return self.owner.get(self.shares(repo)).json()


def make_setup(backend: BackendServer) -> Setup:
    owner_account, friend_account = unique("own"), unique("fr")
    tokens = {}
    for account in (owner_account, friend_account):
        backend.admin("account", "create", account)
        backend.admin("user", "create", account, "u", "--admin")
        tokens[account] = backend.admin("token", "create", account, "u")
    owner = httpx.Client(base_url=backend.url, headers={"X-Auth-Token": tokens[owner_account]})
    friend = httpx.Client(base_url=backend.url, headers={"X-Auth-Token": tokens[friend_account]})
    org = unique("org")
    assert owner.post("/v2/manage/namespaces", json={"namespace": org}).status_code == 201
    for repo in ("app", "team/tool", "other"):
        created = owner.post(f"/v2/manage/namespaces/{org}/repos",
                             json={"repository": repo, "is_public": False})
        assert created.status_code == 200, created.text
    return Setup(backend, owner, friend, friend_account, tokens[friend_account], org)


@pytest.fixture
def setup(backend: BackendServer) -> Iterator[Setup]:
    s = make_setup(backend)
    yield s
    s.owner.close()
    s.friend.close()


def share_body(account: str, deadline: str = "forever", **extra: Any) -> dict[str, Any]:
    return {"access_domain": account, "permit": "read", "deadline": deadline, **extra}


def test_share_lifecycle(setup: Setup) -> None:
    body = share_body(setup.friend_account, "2099-10-01T16:00:00.000Z", description="ci")
    created = setup.owner.post(setup.shares(), json=body)
    assert (created.status_code, created.content) == (201, b"")

    shown = setup.owner.get(f"{setup.shares()}/{setup.friend_account}").json()
    assert shown["exist"] is True
    assert {k: shown[k] for k in ("namespace", "repository", "access_domain", "permit",
                                  "deadline", "description", "creator_name", "status")} == {
        "namespace": setup.org, "repository": "app", "access_domain": setup.friend_account,
        "permit": "read", "deadline": "2099-10-01T16:00:00.000000Z", "description": "ci",
        "creator_name": "u", "status": True,
    }

    updated = setup.owner.patch(f"{setup.shares()}/{setup.friend_account}",
                                json={"permit": "read", "deadline": "forever"})
    assert updated.status_code == 201
    [listed] = setup.share_state()
    assert (listed["deadline"], listed["description"], listed["status"]) == ("forever", "", True)

    deleted = setup.owner.delete(f"{setup.shares()}/{setup.friend_account}")
    again = setup.owner.delete(f"{setup.shares()}/{setup.friend_account}")
    assert deleted.status_code == 204
    assert (again.status_code, again.json()["error_code"]) == (404, "SVCSTG.SWR.4040083")
    assert setup.owner.get(f"{setup.shares()}/{setup.friend_account}").json() == {"exist": False}


def test_shared_repository_path_with_slash(setup: Setup) -> None:
    created = setup.owner.post(setup.shares("team$tool"), json=share_body(setup.friend_account))
    assert created.status_code == 201
    assert setup.share_state("team$tool")[0]["repository"] == "team/tool"
    shown = setup.friend.get(f"/v2/manage/namespaces/{setup.org}/repos/team$tool")
    assert shown.status_code == 200


BAD_CREATES = [
    pytest.param({"permit": "read", "deadline": "forever"}, 400, "SVCSTG.SWR.4001014",
                 id="missing-account"),
    pytest.param(share_body("no-such-account-x"), 400, "SVCSTG.SWR.4001025",
                 id="unknown-account"),
    pytest.param(share_body("FRIEND", permit="write"), 400, "SVCSTG.SWR.4001066",
                 id="permit-write"),
    pytest.param(share_body("FRIEND", "tomorrow"), 400, "SVCSTG.SWR.4001025",
                 id="deadline-garbage"),
    pytest.param(share_body("FRIEND", "2030-01-01T00:00:00"), 400, "SVCSTG.SWR.4001025",
                 id="deadline-no-zone"),
    pytest.param(share_body("FRIEND", "2001-01-01T00:00:00Z"), 400, "SVCSTG.SWR.4001025",
                 id="deadline-past"),
    pytest.param(share_body("FRIEND", 20300101), 400, "SVCSTG.SWR.4000014",
                 id="deadline-number"),
    pytest.param(share_body("FRIEND", description=7), 400, "SVCSTG.SWR.4000014",
                 id="description-number"),
    pytest.param(share_body("FRIEND", description="x" * 10_001), 413, "SVCSTG.SWR.4131012",
                 id="description-long"),
    pytest.param(share_body("OWNER"), 400, "SVCSTG.SWR.4001025", id="own-account"),
    pytest.param(["not", "an", "object"], 400, "SVCSTG.SWR.4000014", id="array-body"),
]


@pytest.mark.parametrize(("body", "status", "code"), BAD_CREATES)
def test_bad_share_refused_and_nothing_changes(
    setup: Setup, body: Any, status: int, code: str
) -> None:
    # Placeholders stand for the accounts this test's setup created.
    accounts = {"FRIEND": setup.friend_account, "OWNER": _owner_domain(setup)}
    if isinstance(body, dict) and body.get("access_domain") in accounts:
        body = {**body, "access_domain": accounts[body["access_domain"]]}
    response = setup.owner.post(setup.shares(), json=body)

    assert (response.status_code, response.json()["error_code"]) == (status, code)
    assert setup.share_state() == []


def _owner_domain(setup: Setup) -> str:
    rows = setup.owner.get("/v2/manage/repos", params={"namespace": setup.org}).json()
    return str(rows[0]["domain_name"])


def test_duplicate_share_and_bad_update_change_nothing(setup: Setup) -> None:
    assert setup.owner.post(setup.shares(), json=share_body(setup.friend_account)).status_code \
        == 201
    before = setup.share_state()

    duplicate = setup.owner.post(setup.shares(), json=share_body(setup.friend_account,
                                                                 "2099-01-01T00:00:00Z"))
    bad_permit = setup.owner.patch(f"{setup.shares()}/{setup.friend_account}",
                                   json={"permit": "write", "deadline": "forever"})
    bad_deadline = setup.owner.patch(f"{setup.shares()}/{setup.friend_account}",
                                     json={"permit": "read", "deadline": "soon"})
    absent = setup.owner.patch(f"{setup.shares()}/nobody-here",
                               json={"permit": "read", "deadline": "forever"})

    assert (duplicate.status_code, duplicate.json()["error_code"]) == (409, "SVCSTG.SWR.4090089")
    assert (bad_permit.status_code, bad_permit.json()["error_code"]) == (400, "SVCSTG.SWR.4001066")
    assert (bad_deadline.status_code, bad_deadline.json()["error_code"]) == (
        400, "SVCSTG.SWR.4001025"
    )
    assert (absent.status_code, absent.json()["error_code"]) == (404, "SVCSTG.SWR.4040083")
    assert setup.share_state() == before


def test_shared_repositories_centers_filters_paging(setup: Setup) -> None:
    for repo in ("app", "team$tool"):
        assert setup.owner.post(setup.shares(repo),
                                json=share_body(setup.friend_account)).status_code == 201

    mine = setup.owner.get("/v2/manage/shared-repositories",
                           params={"center": "self", "namespace": setup.org,
                                   "order_column": "name", "order_type": "asc"}).json()
    theirs = setup.friend.get("/v2/manage/shared-repositories",
                              params={"filter": f"center::thirdparty|namespace::{setup.org}"
                                                "|order_column::name|order_type::desc"}).json()
    page = setup.friend.get("/v2/manage/shared-repositories",
                            params={"center": "thirdparty", "namespace": setup.org,
                                    "order_column": "name", "order_type": "asc",
                                    "limit": "1", "offset": "1"})
    named = setup.friend.get("/v2/manage/shared-repositories",
                             params={"center": "thirdparty", "name": "team$to"}).json()

    assert [(r["name"], r["status"]) for r in mine] == [("app", False), ("team/tool", False)]
    assert [(r["name"], r["status"]) for r in theirs] == [("team/tool", True), ("app", True)]
    assert {r["namespace"] for r in theirs} == {setup.org}
    assert page.headers["Content-Range"] == "1-1/2"
    assert [r["name"] for r in page.json()] == ["team/tool"]
    assert [r["name"] for r in named] == ["team/tool"]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        pytest.param({}, "SVCSTG.SWR.4001014", id="no-center"),
        pytest.param({"center": "everyone"}, "SVCSTG.SWR.4001025", id="bad-center"),
        pytest.param({"center": "self", "status": "maybe"}, "SVCSTG.SWR.4001025",
                     id="bad-status"),
        pytest.param({"center": "self", "limit": "0", "offset": "0"}, "SVCSTG.SWR.4000056",
                     id="bad-limit"),
        pytest.param({"center": "self", "order_column": "size", "order_type": "asc"},
                     "SVCSTG.SWR.4001025", id="bad-order"),
        pytest.param({"filter": "center"}, "SVCSTG.SWR.4001035", id="bad-filter"),
    ],
)
def test_shared_repositories_bad_criteria(
    setup: Setup, params: dict[str, str], code: str
) -> None:
    response = setup.friend.get("/v2/manage/shared-repositories", params=params)
    assert (response.status_code, response.json()["error_code"]) == (400, code)


# ---------------------------------------------------------------------------- access effects


def pull(skopeo: str, backend: BackendServer, token: str, target: str) -> str:
    result = subprocess.run(
        [skopeo, "inspect", "--raw", "--tls-verify=false", "--creds", f"u:{token}",
         f"docker://{backend.host}/{target}"],
        capture_output=True, text=True, timeout=120,
    )
    return "ok" if result.returncode == 0 else "refused"


def push(skopeo: str, backend: BackendServer, token: str, layout: Path, target: str) -> None:
    result = subprocess.run(
        [skopeo, "copy", "--dest-tls-verify=false", "--dest-creds", f"u:{token}",
         f"oci:{layout}:v1", f"docker://{backend.host}/{target}"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory, make_test_image: Path) -> Path:
    folder = tmp_path_factory.mktemp("share-image") / "layout"
    make_image(make_test_image, folder, "v1")
    return folder


def test_share_deletion_revokes_pull_at_once(
    setup: Setup, skopeo: str, layout: Path
) -> None:
    owner_token = setup.owner.headers["X-Auth-Token"]
    push(skopeo, setup.backend, owner_token, layout, f"{setup.org}/app:v1")
    assert setup.owner.post(setup.shares(), json=share_body(setup.friend_account)).status_code \
        == 201
    assert pull(skopeo, setup.backend, setup.friend_token, f"{setup.org}/app:v1") == "ok"

    setup.owner.delete(f"{setup.shares()}/{setup.friend_account}")

    assert pull(skopeo, setup.backend, setup.friend_token, f"{setup.org}/app:v1") == "refused"
    shown = setup.friend.get(f"/v2/manage/namespaces/{setup.org}/repos/app/tags")
    assert (shown.status_code, shown.json()["error_code"]) == (404, "SVCSTG.SWR.4040058")


@pytest.fixture
def clocked(tmp_path: Path) -> Iterator[Setup]:
    server = start_backend(tmp_path / "data", {"SWR_TEST_CLOCK": "1"})
    s = make_setup(server)
    yield s
    s.owner.close()
    s.friend.close()
    stop(server.process)


def advance(backend: BackendServer, seconds: float) -> dict[str, Any]:
    response = httpx.post(backend.url + "/__test__/clock", json={"advance_seconds": seconds},
                          headers={"X-Auth-Token": backend.admin_token})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_share_expires_at_next_midnight_after_deadline(
    clocked: Setup, skopeo: str, layout: Path
) -> None:
    # given a share whose deadline is today (the backend's today)
    backend = clocked.backend
    today = advance(backend, 0)["now"][:10]
    push(skopeo, backend, clocked.owner.headers["X-Auth-Token"], layout, f"{clocked.org}/app:v1")
    created = clocked.owner.post(clocked.shares(),
                                 json=share_body(clocked.friend_account, f"{today}T00:00:00Z"))
    assert created.status_code == 201
    assert pull(skopeo, backend, clocked.friend_token, f"{clocked.org}/app:v1") == "ok"
    tags = clocked.friend.get(f"/v2/manage/namespaces/{clocked.org}/repos/app/tags")
    assert [t["Tag"] for t in tags.json()] == ["v1"]

    # when the clock passes the next midnight
    advance(backend, 24 * 3600)

    # then the share is reported expired and grants nothing
    [record] = clocked.share_state()
    assert record["status"] is False
    assert pull(skopeo, backend, clocked.friend_token, f"{clocked.org}/app:v1") == "refused"
    gone = clocked.friend.get(f"/v2/manage/namespaces/{clocked.org}/repos/app/tags")
    assert (gone.status_code, gone.json()["error_code"]) == (404, "SVCSTG.SWR.4040058")
    listed = clocked.friend.get("/v2/manage/shared-repositories",
                                params={"center": "thirdparty"}).json()
    expired = clocked.friend.get("/v2/manage/shared-repositories",
                                 params={"center": "thirdparty", "status": "false"}).json()
    assert listed == []
    assert [(r["name"], r["status"], r["tags"]) for r in expired] == [("app", False, [])]


def test_test_clock_is_off_by_default(backend: BackendServer) -> None:
    response = httpx.post(backend.url + "/__test__/clock", json={"advance_seconds": 1},
                          headers={"X-Auth-Token": backend.admin_token})
    assert response.status_code == 404


def test_test_clock_needs_the_operator(clocked: Setup) -> None:
    response = clocked.friend.post("/__test__/clock", json={"advance_seconds": 86400})
    assert (response.status_code, response.json()["error_code"]) == (403, "SVCSTG.SWR.4030170")
