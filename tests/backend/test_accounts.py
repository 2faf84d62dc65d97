"""Accounts, users, tokens and organization permissions (`/v2/manage/namespaces/{ns}/access`)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.backend.support import make_image, unique
from tests.conftest import BackendServer


def swr_local(backend: BackendServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "swrlocal", *args, "--data-dir", str(backend.data_dir)],
        capture_output=True, text=True,
    )


def test_admin_commands_while_serving(backend: BackendServer) -> None:
    account = unique("ac")
    created = swr_local(backend, "account", "create", account)
    duplicate = swr_local(backend, "account", "create", account)
    user = swr_local(backend, "user", "create", account, "dev")
    token = swr_local(backend, "token", "create", account, "dev")
    keys = swr_local(backend, "access-key", "create", account, "dev")
    missing = swr_local(backend, "token", "create", account, "nobody")

    assert created.returncode == 0 and len(created.stdout.strip()) == 32
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    assert user.returncode == 0 and len(user.stdout.strip()) == 32
    assert token.stdout.startswith("swr_") and token.stdout.count("\n") == 1
    access_key, secret_key = keys.stdout.split()
    assert access_key.startswith("SWRL") and len(access_key) == 20 and len(secret_key) == 40
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    whoami = httpx.get(backend.url + "/v2/manage/namespaces",
                       headers={"X-Auth-Token": token.stdout.strip()})
    assert whoami.status_code == 200


def test_revoked_token_stops_on_rest_and_registry(
    backend: BackendServer, skopeo: str, make_test_image: Path, tmp_path: Path
) -> None:
    account, org = unique("ac"), unique("org")
    backend.admin("account", "create", account)
    backend.admin("user", "create", account, "dev", "--admin")
    token = backend.admin("token", "create", account, "dev")
    headers = {"X-Auth-Token": token}
    assert httpx.post(backend.url + "/v2/manage/namespaces", json={"namespace": org},
                      headers=headers).status_code == 201
    make_image(make_test_image, tmp_path / "img", "v1")
    copy = [skopeo, "copy", "--dest-tls-verify=false", "--dest-creds", f"dev:{token}",
            f"oci:{tmp_path / 'img'}:v1", f"docker://{backend.host}/{org}/app:v1"]
    assert subprocess.run(copy, capture_output=True).returncode == 0

    swr_local(backend, "token", "revoke", token).check_returncode()

    rest = httpx.get(backend.url + "/v2/manage/namespaces", headers=headers)
    assert (rest.status_code, rest.json()["error_code"]) == (401, "SVCSTG.SWR.4010000")
    inspect = subprocess.run(
        [skopeo, "inspect", "--raw", "--tls-verify=false", "--creds", f"dev:{token}",
         f"docker://{backend.host}/{org}/app:v1"], capture_output=True, text=True,
    )
    assert inspect.returncode != 0
    assert "401" in inspect.stderr or "unauthorized" in inspect.stderr.lower()
    basic = httpx.get(backend.url + "/v2/_catalog", auth=("dev", token))
    assert basic.status_code == 401


def test_registry_bearer_token_dies_with_its_api_token(backend: BackendServer) -> None:
    account = unique("ac")
    backend.admin("account", "create", account)
    backend.admin("user", "create", account, "dev")
    token = backend.admin("token", "create", account, "dev")
    issued = httpx.get(backend.url + "/auth/token", params={"service": "swr-local",
                       "scope": "registry:catalog:*"}, auth=("dev", token))
    assert issued.status_code == 200
    bearer = issued.json()["token"]

    swr_local(backend, "token", "revoke", token).check_returncode()

    after = httpx.get(backend.url + "/v2/_catalog", headers={"Authorization": f"Bearer {bearer}"})
    assert after.status_code == 401


# ---------------------------------------------------------------------------- permissions


@dataclass
class Org:
    backend: BackendServer
    owner: httpx.Client
    name: str
    ids: dict[str, str]
    account: str

    @property
    def path(self) -> str:
        return f"/v2/manage/namespaces/{self.name}/access"

    def state(self) -> Any:
        return self.owner.get(self.path).json()


@pytest.fixture
def org(backend: BackendServer) -> Iterator[Org]:
    account, name = unique("ac"), unique("org")
    backend.admin("account", "create", account)
    ids = {user: backend.admin("user", "create", account, user) for user in ("boss", "ann", "bob")}
    token = backend.admin("token", "create", account, "boss")
    with httpx.Client(base_url=backend.url, headers={"X-Auth-Token": token}) as owner:
        assert owner.post("/v2/manage/namespaces", json={"namespace": name}).status_code == 201
        yield Org(backend, owner, name, ids, account)


def test_permission_lifecycle(org: Org) -> None:
    granted = org.owner.post(org.path, json=[
        {"user_id": org.ids["ann"], "user_name": "ann", "auth": 1},
        {"user_name": "bob", "auth": 3},
    ])
    assert (granted.status_code, granted.content) == (201, b"")
    shown = org.state()
    assert (shown["name"], shown["creator_name"]) == (org.name, "boss")
    assert shown["self_auth"] == {"user_id": org.ids["boss"], "user_name": "boss", "auth": 7}
    assert shown["others_auths"] == [
        {"user_id": org.ids["ann"], "user_name": "ann", "auth": 1},
        {"user_id": org.ids["bob"], "user_name": "bob", "auth": 3},
    ]

    updated = org.owner.patch(org.path, json=[{"user_id": org.ids["ann"], "auth": 7}])
    assert updated.status_code == 201
    assert org.state()["others_auths"][0]["auth"] == 7

    deleted = org.owner.request("DELETE", org.path, json=[org.ids["ann"], org.ids["bob"]])
    assert deleted.status_code == 204
    assert org.state()["others_auths"] == []


def test_granted_user_sees_organization_with_its_level(org: Org) -> None:
    token = org.backend.admin("token", "create", org.account, "ann")
    ann = {"X-Auth-Token": token}
    before = httpx.get(f"{org.backend.url}/v2/manage/namespaces/{org.name}", headers=ann)
    assert org.owner.post(org.path, json=[{"user_name": "ann", "auth": 1}]).status_code == 201
    after = httpx.get(f"{org.backend.url}/v2/manage/namespaces/{org.name}", headers=ann)
    own_view = httpx.get(f"{org.backend.url}{org.path}", headers=ann).json()

    assert (before.status_code, before.json()["error_code"]) == (404, "SVCSTG.SWR.4040058")
    assert (after.status_code, after.json()["auth"]) == (200, 1)
    assert own_view["self_auth"] == {"user_id": org.ids["ann"], "user_name": "ann", "auth": 1}


BAD_GRANTS = [
    pytest.param([{"user_name": "ann", "auth": 5}], 400, "SVCSTG.SWR.4001066", id="auth-5"),
    pytest.param([{"user_name": "ann", "auth": "7"}], 400, "SVCSTG.SWR.4001066", id="auth-text"),
    pytest.param([{"user_name": "ann", "auth": True}], 400, "SVCSTG.SWR.4001066", id="auth-bool"),
    pytest.param([{"user_name": "ann"}], 400, "SVCSTG.SWR.4001014", id="auth-missing"),
    pytest.param([{"auth": 1}], 400, "SVCSTG.SWR.4001014", id="user-missing"),
    pytest.param([{"user_name": "zed", "auth": 1}], 400, "SVCSTG.SWR.4001025", id="no-such-user"),
    pytest.param([{"user_id": "ANN", "user_name": "bob", "auth": 1}], 400, "SVCSTG.SWR.4001025",
                 id="id-name-mismatch"),
    pytest.param([{"user_name": "ann", "auth": 1}, {"user_name": "ann", "auth": 3}], 400,
                 "SVCSTG.SWR.4001025", id="twice"),
    pytest.param([{"user_name": "ann", "auth": 1}, {"user_name": "boss", "auth": 1}], 409,
                 "SVCSTG.SWR.4090089", id="exists"),
    pytest.param([], 400, "SVCSTG.SWR.4000014", id="empty"),
    pytest.param({"user_name": "ann", "auth": 1}, 400, "SVCSTG.SWR.4000014", id="object"),
    pytest.param(["ann"], 400, "SVCSTG.SWR.4000014", id="strings"),
]


@pytest.mark.parametrize(("body", "status", "code"), BAD_GRANTS)
def test_bad_grant_refused_and_nothing_changes(
    org: Org, body: Any, status: int, code: str
) -> None:
    if isinstance(body, list) and body and isinstance(body[0], dict) \
            and body[0].get("user_id") == "ANN":
        body = [{**body[0], "user_id": org.ids["ann"]}]
    before = org.state()

    response = org.owner.post(org.path, json=body)

    assert (response.status_code, response.json()["error_code"]) == (status, code)
    assert org.state() == before


def test_other_account_users_cannot_be_granted(org: Org, backend: BackendServer) -> None:
    other = unique("ac")
    backend.admin("account", "create", other)
    outsider = backend.admin("user", "create", other, "ann2")
    response = org.owner.post(org.path, json=[{"user_id": outsider, "auth": 1}])
    assert (response.status_code, response.json()["error_code"]) == (400, "SVCSTG.SWR.4001025")
    assert org.state()["others_auths"] == []


def test_bad_update_and_delete_change_nothing(org: Org) -> None:
    assert org.owner.post(org.path, json=[{"user_name": "ann", "auth": 1}]).status_code == 201
    before = org.state()

    not_held = org.owner.patch(org.path, json=[{"user_name": "bob", "auth": 3}])
    bad_auth = org.owner.patch(org.path, json=[{"user_name": "ann", "auth": 2}])
    delete_absent = org.owner.request("DELETE", org.path, json=[org.ids["ann"], org.ids["bob"]])
    delete_bad = org.owner.request("DELETE", org.path, json=[{"user_id": org.ids["ann"]}])

    assert (not_held.status_code, not_held.json()["error_code"]) == (404, "SVCSTG.SWR.4040083")
    assert (bad_auth.status_code, bad_auth.json()["error_code"]) == (400, "SVCSTG.SWR.4001066")
    assert (delete_absent.status_code, delete_absent.json()["error_code"]) == (
        404, "SVCSTG.SWR.4040083"
    )
    assert (delete_bad.status_code, delete_bad.json()["error_code"]) == (400, "SVCSTG.SWR.4000014")
    assert org.state() == before
